"""People, their identities on each platform, invitations and team chats."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from core.ids import ChatRef, PersonId
from core.records import Identity, Person
from store.postgres.base import Repo, Row
from store.postgres.records import Invite, NewPerson, from_ts, ts

_PERSON_COLUMNS = (
    "id, name, role, grid, building, language, timezone, phone, address, plan, family_of, active, "
    "contact, caller_id, deputy_id, relation, risk"
)


def _person(row: Row) -> Person:
    return Person(
        id=PersonId(row["id"]),
        name=row["name"],
        role=row["role"],
        grid=row["grid"],
        building=row["building"],
        language=row["language"],
        timezone=row["timezone"],
        phone=row["phone"],
        address=row["address"],
        plan=row["plan"],
        family_of=None if row["family_of"] is None else PersonId(row["family_of"]),
        active=bool(row["active"]),
        contact=row["contact"],
        caller=None if row["caller_id"] is None else PersonId(row["caller_id"]),
        deputy=None if row["deputy_id"] is None else PersonId(row["deputy_id"]),
        relation=row["relation"],
        risk=row["risk"],
    )


def _identity(row: Row) -> Identity:
    return Identity(
        person_id=PersonId(row["person_id"]),
        platform=row["platform"],
        address=row["address"],
        chat=ChatRef(row["chat"]),
    )


def _invite(row: Row) -> Invite:
    return Invite(
        code=row["code"],
        person_id=None if row["person_id"] is None else PersonId(row["person_id"]),
        team=row["team"],
        expires_at=from_ts(row["expires_at"]),
        used_at=None if row["used_at"] is None else from_ts(row["used_at"]),
    )


class PeopleRepo(Repo):
    async def person(self, person_id: int) -> Person | None:
        row = await self._one(f"SELECT {_PERSON_COLUMNS} FROM people WHERE id = $1", (person_id,))
        return None if row is None else _person(row)

    async def people_by_id(self, person_ids: Sequence[PersonId]) -> dict[PersonId, Person]:
        if not person_ids:
            return {}
        rows = await self._all(
            f"SELECT {_PERSON_COLUMNS} FROM people WHERE id = ANY($1::bigint[])",
            (list(person_ids),),
        )
        return {PersonId(r["id"]): _person(r) for r in rows}

    async def person_by_name(self, name: str) -> Person | None:
        row = await self._one(f"SELECT {_PERSON_COLUMNS} FROM people WHERE name = $1", (name,))
        return None if row is None else _person(row)

    async def people(self, role: str | None = None) -> list[Person]:
        if role is None:
            rows = await self._all(f"SELECT {_PERSON_COLUMNS} FROM people ORDER BY id")
        else:
            rows = await self._all(
                f"SELECT {_PERSON_COLUMNS} FROM people WHERE role = $1 ORDER BY id", (role,)
            )
        return [_person(r) for r in rows]

    async def count_people(self) -> int:
        return int(await self._value("SELECT count(*) FROM people"))

    async def responders(self, grid: str, role: str) -> list[Person]:
        """Responders with `role` for a grid; a responder with no grid serves every grid."""
        rows = await self._all(
            f"SELECT {_PERSON_COLUMNS} FROM people WHERE role = $1 AND active = 1 "
            "AND (grid = $2 OR grid = '') ORDER BY grid DESC, id",
            (role, grid),
        )
        return [_person(r) for r in rows]

    async def family_of(self, resident: PersonId) -> list[Person]:
        rows = await self._all(
            f"SELECT {_PERSON_COLUMNS} FROM people WHERE family_of = $1 AND active = 1 ORDER BY id",
            (resident,),
        )
        return [_person(r) for r in rows]

    async def family_of_each(self, residents: Sequence[PersonId]) -> dict[PersonId, list[Person]]:
        if not residents:
            return {}
        rows = await self._all(
            f"SELECT {_PERSON_COLUMNS} FROM people WHERE family_of = ANY($1::bigint[]) "
            "AND active = 1 ORDER BY id",
            (list(residents),),
        )
        found: dict[PersonId, list[Person]] = {}
        for r in rows:
            found.setdefault(PersonId(r["family_of"]), []).append(_person(r))
        return found

    async def upsert_people(self, people: Sequence[NewPerson], now: datetime) -> int:
        """Insert or update by name; family links are resolved after every row exists."""
        await self._many(
            "INSERT INTO people (name, role, grid, building, language, timezone, phone, "
            "address, plan, contact, risk, created_at) "
            "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) "
            "ON CONFLICT (name) DO UPDATE SET role = excluded.role, grid = excluded.grid, "
            "building = excluded.building, language = excluded.language, "
            "timezone = excluded.timezone, phone = excluded.phone, "
            "address = excluded.address, plan = excluded.plan, "
            # A row without a contact keeps the one the person has (perhaps switched to
            # phone because chat messages stopped reaching them).
            "contact = CASE WHEN $13 = '' THEN people.contact ELSE excluded.contact END, "
            # Nor does a row without a risk tier lose the one the person has.
            "risk = CASE WHEN excluded.risk = '' THEN people.risk ELSE excluded.risk END",
            [
                (
                    p.name,
                    p.role,
                    p.grid,
                    p.building,
                    p.language,
                    p.timezone,
                    p.phone,
                    p.address,
                    p.plan,
                    p.contact or "chat",
                    p.risk,
                    ts(now),
                    p.contact,
                )
                for p in people
            ],
        )
        await self._many(
            "UPDATE people SET family_of = (SELECT f.id FROM people AS f WHERE f.name = $1), "
            "caller_id = (SELECT c.id FROM people AS c WHERE c.name = $2), "
            "deputy_id = (SELECT d.id FROM people AS d WHERE d.name = $3), "
            "relation = $4 WHERE name = $5",
            [
                (
                    p.family_of_name or None,
                    p.caller_name or None,
                    p.deputy_name or None,
                    p.relation,
                    p.name,
                )
                for p in people
            ],
        )
        return len(people)

    async def set_active(self, person_id: PersonId, active: bool) -> None:
        await self._run("UPDATE people SET active = $1 WHERE id = $2", (int(active), person_id))

    async def grids(self) -> list[str]:
        rows = await self._all("SELECT DISTINCT grid FROM people WHERE grid <> '' ORDER BY grid")
        return [r["grid"] for r in rows]

    async def round_residents(
        self, plan: str, timezone: str, grid: str = ""
    ) -> list[tuple[PersonId, ChatRef, str, str]]:
        """Active residents on a plan in a timezone (and a grid, if given), one row per
        identity, with what a prompt needs: (id, chat, name, language), in id order."""
        rows = await self._all(
            "SELECT p.id, i.chat, p.name, p.language FROM people p "
            "JOIN identities i ON i.person_id = p.id "
            "WHERE p.role = 'resident' AND p.active = 1 AND p.plan = $1 AND p.timezone = $2 "
            "AND ($3 = '' OR p.grid = $3) AND p.contact = 'chat' ORDER BY p.id",
            (plan, timezone, grid),
        )
        return [(PersonId(r[0]), ChatRef(r[1]), r[2], r[3]) for r in rows]

    async def grids_without_reachable_leader(self, platforms: Sequence[str] = ()) -> list[str]:
        """Grids with active residents but no active grid leader (of the grid, or of
        every grid) enrolled on a chat platform — on one of `platforms`, if given."""
        # Two small reads and a difference, as on SQLite: a NOT EXISTS correlated with
        # each resident row took minutes for 100,000 residents.
        led = {
            str(r["grid"])
            for r in await self._all(
                "SELECT DISTINCT l.grid FROM people l JOIN identities i ON i.person_id = l.id "
                "WHERE l.role = 'grid_leader' AND l.active = 1 "
                "AND (cardinality($1::text[]) = 0 OR i.platform = ANY($1::text[]))",
                (list(platforms),),
            )
        }
        if "" in led:
            return []
        grids = await self._all(
            "SELECT DISTINCT grid FROM people WHERE role = 'resident' AND active = 1 ORDER BY grid"
        )
        return [str(r["grid"]) for r in grids if str(r["grid"]) not in led]

    async def round_keys(self) -> list[tuple[str, str]]:
        rows = await self._all(
            "SELECT DISTINCT plan, timezone FROM people WHERE role = 'resident' AND active = 1"
        )
        return [(r["plan"], r["timezone"]) for r in rows]

    # -- identities --------------------------------------------------------------

    async def identity(self, platform: str, address: str) -> Identity | None:
        row = await self._one(
            "SELECT person_id, platform, address, chat FROM identities "
            "WHERE platform = $1 AND address = $2",
            (platform, address),
        )
        return None if row is None else _identity(row)

    async def identities_of(self, person_id: PersonId) -> list[Identity]:
        # SQLite breaks ties (identities bound at the same moment) by insertion order,
        # which PostgreSQL does not keep: the key makes the order the same every time.
        rows = await self._all(
            "SELECT person_id, platform, address, chat FROM identities WHERE person_id = $1 "
            "ORDER BY created_at, platform, address",
            (person_id,),
        )
        return [_identity(r) for r in rows]

    async def identities_of_each(
        self, person_ids: Sequence[PersonId]
    ) -> dict[PersonId, list[Identity]]:
        if not person_ids:
            return {}
        rows = await self._all(
            "SELECT person_id, platform, address, chat FROM identities "
            "WHERE person_id = ANY($1::bigint[]) ORDER BY created_at, platform, address",
            (list(person_ids),),
        )
        found: dict[PersonId, list[Identity]] = {}
        for r in rows:
            found.setdefault(PersonId(r["person_id"]), []).append(_identity(r))
        return found

    async def identities_at(self, platform: str, addresses: Sequence[str]) -> dict[str, Identity]:
        if not addresses:
            return {}
        rows = await self._all(
            "SELECT person_id, platform, address, chat FROM identities "
            "WHERE platform = $1 AND address = ANY($2::text[])",
            (platform, list(addresses)),
        )
        return {r["address"]: _identity(r) for r in rows}

    async def all_identities(self) -> list[Identity]:
        rows = await self._all("SELECT person_id, platform, address, chat FROM identities")
        return [_identity(r) for r in rows]

    async def bind_identity(
        self, person_id: PersonId, platform: str, address: str, chat: ChatRef, now: datetime
    ) -> None:
        await self._run(
            "INSERT INTO identities (person_id, platform, address, chat, created_at) "
            "VALUES ($1,$2,$3,$4,$5) ON CONFLICT (platform, address) DO UPDATE SET "
            "person_id = excluded.person_id, chat = excluded.chat",
            (person_id, platform, address, chat, ts(now)),
        )

    async def replace_import_identities(
        self, rows: Sequence[tuple[str, str, str, str]], now: datetime
    ) -> None:
        """(person name, platform, address, chat) from an import: add or re-point."""
        await self._many(
            "INSERT INTO identities (person_id, platform, address, chat, created_at) "
            "SELECT id, $1, $2, $3, $4 FROM people WHERE name = $5 "
            "ON CONFLICT (platform, address) DO UPDATE SET person_id = excluded.person_id",
            [(platform, address, chat, ts(now), name) for name, platform, address, chat in rows],
        )

    # -- invitations --------------------------------------------------------------

    async def add_invite(
        self,
        code: str,
        person_id: PersonId | None,
        team: str | None,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        await self._run(
            "INSERT INTO invites (code, person_id, team, created_at, expires_at) "
            "VALUES ($1,$2,$3,$4,$5)",
            (code, person_id, team, ts(now), ts(expires_at)),
        )

    async def open_invite(self, code: str, now: datetime) -> Invite | None:
        """The invitation if it could still be used, without using it."""
        row = await self._one(
            "SELECT code, person_id, team, expires_at, used_at FROM invites "
            "WHERE code = $1 AND used_at IS NULL AND expires_at > $2",
            (code, ts(now)),
        )
        return None if row is None else _invite(row)

    async def spend_invite(self, code: str, now: datetime, used_by: str) -> Invite | None:
        """Use a code once: returns it only if it was unused and unexpired."""
        row = await self._one(
            "UPDATE invites SET used_at = $1, used_by = $2 "
            "WHERE code = $3 AND used_at IS NULL AND expires_at > $1 "
            "RETURNING code, person_id, team, expires_at, used_at",
            (ts(now), used_by, code),
        )
        return None if row is None else _invite(row)

    async def is_team_chat(self, chat: ChatRef) -> bool:
        return await self._one("SELECT 1 FROM team_chats WHERE chat = $1", (chat,)) is not None

    async def has_open_person_invites(self, now: datetime) -> bool:
        row = await self._one(
            "SELECT 1 FROM invites WHERE person_id IS NOT NULL AND used_at IS NULL "
            "AND expires_at > $1 LIMIT 1",
            (ts(now),),
        )
        return row is not None

    async def invite_is_for_team(self, code: str) -> bool:
        row = await self._one("SELECT team FROM invites WHERE code = $1", (code,))
        return row is not None and row["team"] is not None

    async def link_team_chat(self, team: str, chat: ChatRef) -> None:
        await self._run(
            "INSERT INTO team_chats (team, chat) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            (team, chat),
        )

    async def team_chats(self, team: str) -> list[ChatRef]:
        rows = await self._all("SELECT chat FROM team_chats WHERE team = $1", (team,))
        return [ChatRef(r["chat"]) for r in rows]

    async def export_rows(self) -> list[dict[str, Any]]:
        rows = await self._all(
            "SELECT p.name, p.role, p.grid, p.building, p.language, p.timezone, p.phone, "
            "p.address, p.plan, f.name AS family_of, p.relation, p.contact, p.risk, "
            "(SELECT c.name FROM people c WHERE c.id = p.caller_id) AS caller, "
            "(SELECT d.name FROM people d WHERE d.id = p.deputy_id) AS deputy, "
            "(SELECT string_agg(i.address, ' ' ORDER BY i.created_at, i.address) "
            " FROM identities i WHERE i.person_id = p.id AND i.platform = 'telegram') "
            "AS telegram, "
            "(SELECT string_agg(i.address, ' ' ORDER BY i.created_at, i.address) "
            " FROM identities i WHERE i.person_id = p.id AND i.platform = 'matrix') AS matrix "
            "FROM people p LEFT JOIN people f ON f.id = p.family_of "
            "WHERE p.forgotten_at IS NULL ORDER BY p.id"
        )
        return [dict(r.items()) for r in rows]
