"""Printable invitation sheets: A4 pages of four A6 cards, each with the person's
name, a QR code a phone opens to join (when a chat platform gives such a link), the
one-time code in large type, and the instructions in the person's own language.

Used by the console (`/invitations`) and by `carecheck people invite --grid G --sheet
cards.html` (`write_sheet`). The codes are made by the chat's own enrollment
(workflows/enrollment.py `invite`), one per person, in one transaction; the links and
card lines come from each platform's inviter (adapters/*/platform.py), made once per
language because their lines are in the reader's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import segno

from adapters.base import Inviter
from core.enums import Role
from core.records import Person
from gateway.engine import Engine
from gateway.platforms import PLATFORMS
from gateway.settings import Settings
from gateway.web.render import environment
from workflows import enrollment
from workflows.texts import Texts, ui

CARDS_PER_PAGE = 4
# Names longer than these many characters get smaller type, so that none is cut.
LONG_NAME = 8
VERY_LONG_NAME = 20


@dataclass(frozen=True)
class Card:
    name: str
    place: str
    code: str
    qr_svg: str  # inline SVG, "" when no platform gives a link to scan
    hint: str
    lines: tuple[str, ...]
    language: str
    size: str  # the name's type: "", "long" or "very-long"


async def inviters(settings: Settings | None, texts: Texts, language: str) -> list[Inviter]:
    """Each platform's inviter, speaking `language`; none without settings (tests).
    Raises AdapterStartError when a platform cannot be asked (Telegram's getMe, which
    the Telegram platform asks once per process)."""
    if settings is None:
        return []

    def render(key: str, /, **values: Any) -> str:
        return texts.render(language, key, **values)

    return [await platform.inviter(settings, render) for platform in PLATFORMS]


async def people_to_invite(
    engine: Engine, grid: str | None, *, only_unenrolled: bool, ids: Sequence[int] = ()
) -> list[Person]:
    """Who a sheet is for: the people of a grid (or these ids), not those who left,
    residents first; with `only_unenrolled`, those not yet reachable on a running
    chat platform."""
    running = set(engine.adapters)
    async with engine.store.read() as tx:
        left = await tx.deactivated_people()
        everyone = await tx.people()
        chosen = []
        for person in everyone:
            if person.id in left or (ids and person.id not in ids):
                continue
            if grid is not None and person.grid != grid:
                continue
            if only_unenrolled and any(
                i.platform in running for i in await tx.identities_of(person.id)
            ):
                continue
            chosen.append(person)
    order = {role.value: i for i, role in enumerate(Role)}
    return sorted(chosen, key=lambda p: (p.grid, order.get(p.role, 9), p.building, p.name))


async def make_cards(
    engine: Engine, settings: Settings | None, people: Sequence[Person]
) -> list[Card]:
    """One new code per person (in one transaction), and the card that shows it. The
    platforms are asked first: when one cannot be, no code is spent."""
    by_language: dict[str, list[Inviter]] = {}
    for language in sorted({p.language for p in people}):
        by_language[language] = await inviters(settings, engine.texts, language)
    async with engine.work() as work:
        codes = [await enrollment.invite(work, person_id=p.id, team=None) for p in people]
    cards = []
    for person, code in zip(people, codes, strict=True):
        found = by_language.get(person.language, [])
        targets = [t for i in found if (t := i.qr_target(code, team=False)) is not None]
        lines = tuple(line for i in found for line in i.card_lines(code))
        qr = ""
        if targets:
            qr = segno.make(targets[0], error="m").svg_inline(scale=1, border=2, omitsize=True)
        hint_key = "invite_card_hint" if targets else "invite_card_code_only"
        cards.append(
            Card(
                name=person.name,
                place=person.place,
                code=code,
                qr_svg=qr,
                hint=engine.texts.render(person.language, hint_key),
                lines=lines,
                language=person.language,
                size=(
                    "very-long"
                    if len(person.name) > VERY_LONG_NAME
                    else "long"
                    if len(person.name) > LONG_NAME
                    else ""
                ),
            )
        )
    return cards


def render_sheet(cards: Sequence[Card], language: str, days: int, title: str = "") -> str:
    """A whole HTML document: print it on A4 and cut along the dashed lines."""
    pages = [list(cards[i : i + CARDS_PER_PAGE]) for i in range(0, len(cards), CARDS_PER_PAGE)]
    template = environment().get_template("sheet.html")
    return template.render(
        pages=pages,
        lang=language,
        title=title or ui(language, "sheet_title", count=len(cards)),
        print_label=ui(language, "print"),
        valid={lang: ui(lang, "sheet_valid", days=days) for lang in ("zh", "en")},
    )


async def write_sheet(
    engine: Engine,
    settings: Settings | None,
    grid: str,
    *,
    only_unenrolled: bool = False,
    language: str = "zh",
) -> tuple[str, int]:
    """The hook for `carecheck people invite --grid G --sheet FILE`: the document and
    how many cards it holds (new codes for each person of the grid)."""
    people = await people_to_invite(engine, grid, only_unenrolled=only_unenrolled)
    cards = await make_cards(engine, settings, people)
    days = engine.config.invite_ttl.days
    return render_sheet(cards, language, days), len(cards)
