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
    """What a card shows: `qr_target` is a link a phone opens that joins with the code
    (None when no platform gives one: the card then shows the code alone), and
    `lines` the platforms' short instructions."""

    name: str
    code: str
    qr_target: str | None
    lines: tuple[str, ...] = ()


class NoQrTarget(Exception):
    """A bare QR code was asked for, and no chat platform gives a link to put in it."""


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
    async with engine.work() as work:
        tx = work.tx
        if team is not None:
            if team not in config.teams:
                raise UnknownPerson(f"no team named {team!r} in the workflow file")
            return await enrollment.invite(work, person_id=None, team=team)
        person = await tx.person_by_name(name)
        if person is None:
            raise UnknownPerson(f"no person named {name!r} (see `carecheck people export`)")
        return await enrollment.invite(work, person_id=person.id, team=None)


def qr_card(invitation: Invitation, path: Path, texts: Texts, language: str) -> None:
    """An SVG card (name, QR code of the link, the code in large type) or a plain PNG.
    Raises NoQrTarget for a PNG when there is no link to encode."""
    target = invitation.qr_target
    if path.suffix.lower() == ".png":
        if target is None:
            raise NoQrTarget(
                "no chat platform here gives a link a phone can open; "
                "a .svg card shows the code instead"
            )
        segno.make(target, error="m").save(str(path), scale=10, border=4)
        return
    title = escape(invitation.name)
    code = escape(invitation.code)
    if target is not None:
        qr = segno.make(target, error="m")
        qr_svg = qr.svg_inline(scale=8, border=2)
        size = qr.symbol_size(scale=8, border=2)[0]
    else:
        qr_svg, size = "", 0
    width = max(size + 80, 520)
    lines = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{size + 230 + 30 * len(invitation.lines)}">',
        '<rect width="100%" height="100%" fill="#fff" stroke="#1f6f5c" stroke-width="4"/>',
        f'<text x="50%" y="56" font-size="34" text-anchor="middle" font-family="sans-serif">'
        f"{title}</text>",
    ]
    if target is not None:
        # The hint is about scanning: a card without a QR code does without it.
        hint = escape(texts.render(language, "invite_card_hint"))
        lines += [
            f'<g transform="translate({(width - size) / 2},80)">{qr_svg}</g>',
            f'<text x="50%" y="{size + 130}" font-size="20" text-anchor="middle" '
            f'font-family="sans-serif">{hint}</text>',
        ]
    lines.append(
        f'<text x="50%" y="{size + 185}" font-size="40" text-anchor="middle" '
        f'font-family="monospace" letter-spacing="6">{code}</text>'
    )
    for index, line in enumerate(invitation.lines):
        lines.append(
            f'<text x="50%" y="{size + 230 + 30 * index}" font-size="16" text-anchor="middle" '
            f'font-family="sans-serif">{escape(line)}</text>'
        )
    lines.append("</svg>")
    path.write_text("\n".join(lines), encoding="utf-8")
