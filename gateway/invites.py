"""`carecheck people invite`: a one-time code, its links, and a printable QR card."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path

import segno

from core.config import WorkflowConfig
from core.ports import Store
from gateway.clock import Clock
from gateway.engine import Engine
from workflows import enrollment
from workflows.texts import Texts


@dataclass(frozen=True)
class Invitation:
    name: str
    code: str
    telegram_link: str
    matrix_user: str


class UnknownPerson(Exception):
    pass


async def create_invitation(
    store: Store,
    clock: Clock,
    config: WorkflowConfig,
    name: str,
    *,
    team: str | None = None,
) -> str:
    engine = Engine(store, clock, config, {})
    await engine.prepare()
    async with store.transaction() as tx:
        work = engine._work(tx)
        if team is not None:
            if team not in config.teams:
                raise UnknownPerson(f"no team named {team!r} in the workflow file")
            return await enrollment.invite(work, person_id=None, team=team)
        person = await tx.person_by_name(name)
        if person is None:
            raise UnknownPerson(f"no person named {name!r} (see `carecheck people export`)")
        return await enrollment.invite(work, person_id=person.id, team=None)


def qr_card(invitation: Invitation, path: Path, texts: Texts, language: str) -> None:
    """An SVG card (name, QR code of the link, the code in large type) or a plain PNG."""
    target = invitation.telegram_link or f"carecheck:{invitation.code}"
    qr = segno.make(target, error="m")
    if path.suffix.lower() == ".png":
        qr.save(str(path), scale=10, border=4)
        return
    qr_svg = qr.svg_inline(scale=8, border=2)
    size = qr.symbol_size(scale=8, border=2)[0]
    width = max(size + 80, 520)
    title = escape(invitation.name)
    hint = escape(texts.render(language, "invite_card_hint"))
    code = escape(invitation.code)
    matrix = escape(invitation.matrix_user)
    lines = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{size + 260}">',
        '<rect width="100%" height="100%" fill="#fff" stroke="#1f6f5c" stroke-width="4"/>',
        f'<text x="50%" y="56" font-size="34" text-anchor="middle" font-family="sans-serif">'
        f"{title}</text>",
        f'<g transform="translate({(width - size) / 2},80)">{qr_svg}</g>',
        f'<text x="50%" y="{size + 130}" font-size="20" text-anchor="middle" '
        f'font-family="sans-serif">{hint}</text>',
        f'<text x="50%" y="{size + 185}" font-size="40" text-anchor="middle" '
        f'font-family="monospace" letter-spacing="6">{code}</text>',
    ]
    if matrix:
        lines.append(
            f'<text x="50%" y="{size + 230}" font-size="16" text-anchor="middle" '
            f'font-family="sans-serif">Matrix: !link {code} → {matrix}</text>'
        )
    lines.append("</svg>")
    path.write_text("\n".join(lines), encoding="utf-8")
