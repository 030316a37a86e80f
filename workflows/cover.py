"""Cover for people who are away: a responder's alerts go to their deputy.

A responder away (`/away`) is replaced, wherever they would be notified, by their
deputy (the CSV `deputy` column) — or, for a grid leader without one (or whose deputy
cannot cover), by the grid's care leads. A deputy who is away too is covered in turn,
a few levels deep. A step
whose only person is away thus goes to the deputy at once instead of being passed over.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.enums import Role
from core.records import Person
from workflows.context import Work

# A chain of deputies deeper than this is a loop or a mistake in the people file.
MAX_DEPTH = 3


async def is_away(work: Work, person: Person) -> bool:
    return await work.tx.current_absence(person.id, work.now) is not None


async def deputies(work: Work, person: Person, grid: str, depth: int = 0) -> list[Person]:
    """Who covers for `person` (in `grid`) while they are away, themselves not away."""
    found: list[Person] = []
    if person.deputy is not None:
        deputy = await work.tx.person(person.deputy)
        found = await _available(work, [] if deputy is None else [deputy], person, grid, depth)
    if not found and person.role == Role.GRID_LEADER:
        # No deputy, or none who can cover now: the grid's care leads.
        care_leads = await work.tx.responders(grid or person.grid, Role.CARE_LEAD.value)
        found = await _available(work, care_leads, person, grid, depth)
    return found


async def _available(
    work: Work, candidates: Sequence[Person], person: Person, grid: str, depth: int
) -> list[Person]:
    found: list[Person] = []
    for candidate in candidates:
        if candidate.id == person.id or not candidate.active:
            continue
        if not await is_away(work, candidate):
            found.append(candidate)
        elif depth < MAX_DEPTH:
            found.extend(await deputies(work, candidate, grid, depth + 1))
    return list({p.id: p for p in found}.values())


async def covered(
    work: Work, people: Sequence[Person], grid: str
) -> tuple[list[Person], list[tuple[Person, list[Person]]]]:
    """`people` with everyone away replaced by who covers for them; and, for each one
    away, who covers (empty when nobody does)."""
    result: dict[int, Person] = {}
    covering: list[tuple[Person, list[Person]]] = []
    for person in people:
        if not await is_away(work, person):
            result.setdefault(person.id, person)
            continue
        cover = await deputies(work, person, grid)
        covering.append((person, cover))
        for deputy in cover:
            result.setdefault(deputy.id, deputy)
    return list(result.values()), covering
