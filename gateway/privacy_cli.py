"""What `carecheck people export-data`, `people forget` and `audit --person` do: a
person's right to see what is kept about them and to have it erased, and who was shown
their address and phone."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from core.ports import Store
from gateway.engine import Engine
from workflows import privacy


class UnknownPerson(Exception):
    pass


async def person_data(store: Store, name: str) -> dict[str, Any]:
    """Everything held about one person, as one JSON-ready object."""
    async with store.read() as tx:
        person = await tx.person_by_name(name)
        if person is None:
            raise UnknownPerson(f"no person named {name!r}")
        data: dict[str, Any] = {"exported_for": person.name}
        data.update(await tx.person_data(person.id))
    return data


def write_private_json(data: dict[str, Any], path: Path) -> None:
    """Written readable by the owner only (0600), like the database it comes from."""
    text = json.dumps(data, ensure_ascii=False, indent=2, default=_json_value) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(path, 0o600)


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


async def forget(engine: Engine, name: str, requested_by: str) -> privacy.Forgotten:
    async with engine.work() as work:
        person = await work.tx.person_by_name(name)
        if person is None:
            raise UnknownPerson(f"no person named {name!r}")
        return await privacy.forget(work, person, requested_by)


@dataclass(frozen=True)
class Reveal:
    at: datetime
    who: str
    what: str
    why: str


async def reveals(store: Store, name: str) -> list[Reveal]:
    """Every time this person's address or phone was shown to someone (chat or console)."""
    async with store.read() as tx:
        person = await tx.person_by_name(name)
        if person is None:
            raise UnknownPerson(f"no person named {name!r}")
        entries = [e for e in await tx.audit_entries(f"person:{person.id}") if e.kind == "reveal"]
        names: dict[int, str] = {}
        for entry in entries:
            if entry.actor is not None and entry.actor not in names:
                actor = await tx.person(entry.actor)
                names[entry.actor] = actor.name if actor else f"person {entry.actor}"
    result = []
    for entry in entries:
        what, _, why = entry.detail.partition(" | ")
        who = names.get(entry.actor, "-") if entry.actor is not None else "-"
        result.append(Reveal(entry.at, who, what, why))
    return result


def render_reveals(name: str, found: list[Reveal], timezone: str) -> str:
    if not found:
        return f"{name}: nobody has been shown their address or phone"
    zone = ZoneInfo(timezone)
    lines = [f"{name}: shown {len(found)} time(s)"]
    for reveal in found:
        at = reveal.at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        lines.append(f"  {at}  {reveal.who}  {reveal.what}  — {reveal.why}")
    return "\n".join(lines)
