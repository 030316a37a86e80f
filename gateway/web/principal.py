"""Who is asking, and what they may see and do.

Operators see every grid; care leads the grids their account names; grid leaders
their one grid; viewers what their account names (every grid when it names none), and
change nothing. With no account at all, on loopback, the console is open and whoever
uses it is an operator without a person (see gateway/web/security.py).

Acting on an alert or a need is done *as a person*, by the very functions a chat
button calls: an account acts only when it is linked to a responder (`--person`), and
then exactly as far as that responder may act in the chat (escalation.may_act,
needs.may_handle). An account without a person reads, and starts rounds.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from core.console import WebRole, WebUser
from core.enums import Role
from core.ports import Tx
from core.records import Person


@dataclass(frozen=True)
class Principal:
    user: WebUser | None
    person: Person | None
    language: str
    csrf: str

    @property
    def role(self) -> WebRole:
        return self.user.role if self.user is not None else WebRole.OPERATOR

    @property
    def grids(self) -> tuple[str, ...] | None:
        """The grids this principal sees; None for every grid."""
        if self.user is None or self.role is WebRole.OPERATOR:
            return None
        if self.role is WebRole.VIEWER and not self.user.grids:
            return None
        return self.user.grids

    @property
    def name(self) -> str:
        return self.user.username if self.user is not None else ""

    @property
    def is_operator(self) -> bool:
        return self.role is WebRole.OPERATOR

    @property
    def can_act(self) -> bool:
        """Start rounds, act on alerts and needs (the last two as their person)."""
        return self.role is not WebRole.VIEWER

    @property
    def can_manage_people(self) -> bool:
        return self.role in (WebRole.OPERATOR, WebRole.CARE_LEAD)

    @property
    def can_invite(self) -> bool:
        return self.role is not WebRole.VIEWER

    def sees(self, grid: str) -> bool:
        grids = self.grids
        return grids is None or grid in grids

    async def sees_person(self, tx: Tx, person: Person) -> bool:
        if self.grids is None:
            return True
        if person.role == Role.FAMILY and person.family_of is not None:
            # A relative belongs where the resident they are family of lives.
            resident = await tx.person(person.family_of)
            return resident is not None and self.sees(resident.grid)
        # Responders without a grid serve every grid: they are not of one grid, and only
        # someone who sees every grid sees them.
        return person.grid != "" and self.sees(person.grid)


PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)
# The language chosen with the header's switch by someone not logged in (the login page).
CHOSEN_LANGUAGE: web.RequestKey[str] = web.RequestKey("chosen_language", str)


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]
