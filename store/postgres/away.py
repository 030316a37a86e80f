"""Time away, the last human contact with a resident, and the calls of call tasks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.ids import CheckinId, PersonId
from core.records import (
    AWAY_ANSWER,
    PROXY_ANSWERS,
    Absence,
    CallAttempt,
    CallOutcome,
    Checkin,
    ContactKind,
    HumanContact,
    Person,
)
from store.postgres.base import Repo, Row, no_nul
from store.postgres.care import _CHECKIN_COLUMNS, _checkin
from store.postgres.people import _PERSON_COLUMNS, _person
from store.postgres.records import from_ts, opt_ts, ts

_ABSENCE_COLUMNS = "a.id, a.person_id, a.starts_at, a.until_at, a.reason, a.set_by, a.ended_at"
# Check-in answers that were not the resident's own (a call, a visit, time away).
_NOT_THEIRS = [*PROXY_ANSWERS, AWAY_ANSWER]


def _absence(row: Row) -> Absence:
    return Absence(
        id=int(row["id"]),
        person_id=PersonId(row["person_id"]),
        starts_at=from_ts(row["starts_at"]),
        until=from_ts(row["until_at"]),
        reason=row["reason"],
        set_by=None if row["set_by"] is None else PersonId(row["set_by"]),
        ended_at=opt_ts(row["ended_at"]),
    )


class AwayRepo(Repo):
    async def add_absence(
        self,
        person_id: PersonId,
        until: datetime,
        reason: str,
        set_by: PersonId | None,
        now: datetime,
    ) -> int:
        return await self._insert(
            "INSERT INTO absences (person_id, starts_at, until_at, reason, set_by) "
            "VALUES ($1,$2,$3,$4,$5) RETURNING id",
            (person_id, ts(now), ts(until), no_nul(reason), set_by),
        )

    async def absence(self, absence_id: int) -> Absence | None:
        row = await self._one(
            f"SELECT {_ABSENCE_COLUMNS} FROM absences a WHERE a.id = $1", (absence_id,)
        )
        return None if row is None else _absence(row)

    async def current_absence(self, person_id: PersonId, at: datetime) -> Absence | None:
        row = await self._one(
            f"SELECT {_ABSENCE_COLUMNS} FROM absences a WHERE a.person_id = $1 "
            "AND a.ended_at IS NULL AND a.starts_at <= $2 AND a.until_at > $2 "
            "ORDER BY a.until_at DESC, a.id DESC LIMIT 1",
            (person_id, ts(at)),
        )
        return None if row is None else _absence(row)

    async def away_among(self, person_ids: Sequence[PersonId], at: datetime) -> set[PersonId]:
        if not person_ids:
            return set()
        rows = await self._all(
            "SELECT DISTINCT person_id FROM absences WHERE person_id = ANY($1::bigint[]) "
            "AND ended_at IS NULL AND starts_at <= $2 AND until_at > $2",
            (list(person_ids), ts(at)),
        )
        return {PersonId(r["person_id"]) for r in rows}

    async def end_absence(self, absence_id: int, at: datetime) -> bool:
        changed = await self._run(
            "UPDATE absences SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL",
            (ts(at), absence_id),
        )
        return changed == 1

    async def away_at(self, at: datetime, grids: Sequence[str] | None = None) -> list[Absence]:
        rows = await self._all(
            f"SELECT {_ABSENCE_COLUMNS} FROM absences a JOIN people p ON p.id = a.person_id "
            "WHERE a.ended_at IS NULL AND a.starts_at <= $1 AND a.until_at > $1 "
            "AND ($2::text[] IS NULL OR p.grid = ANY($2::text[])) "
            "ORDER BY a.until_at, a.id",
            (ts(at), None if grids is None else list(grids)),
        )
        return [_absence(r) for r in rows]

    async def absences_between(self, start: datetime, end: datetime) -> list[Absence]:
        rows = await self._all(
            f"SELECT {_ABSENCE_COLUMNS} FROM absences a "
            "WHERE a.starts_at < $1 AND coalesce(a.ended_at, a.until_at) > $2 "
            "ORDER BY a.starts_at, a.id",
            (ts(end), ts(start)),
        )
        return [_absence(r) for r in rows]

    async def add_contact(
        self,
        person_id: PersonId,
        at: datetime,
        kind: ContactKind,
        by: PersonId | None,
        note: str = "",
    ) -> None:
        await self._run(
            "INSERT INTO contacts (person_id, at, kind, by_id, note) VALUES ($1,$2,$3,$4,$5)",
            (person_id, ts(at), kind.value, by, no_nul(note)),
        )

    async def last_contact(self, person_id: PersonId) -> HumanContact | None:
        return (await self.last_contacts([person_id])).get(person_id)

    async def last_contacts(self, people: Sequence[PersonId]) -> dict[PersonId, HumanContact]:
        found: dict[PersonId, HumanContact] = {}
        ids = sorted(set(people))
        if not ids:
            return found
        for r in await self._all(
            "SELECT DISTINCT ON (person_id) person_id, at, kind, by_id, note FROM contacts "
            "WHERE person_id = ANY($1::bigint[]) ORDER BY person_id, at DESC, id DESC",
            (ids,),
        ):
            found[PersonId(r["person_id"])] = HumanContact(
                PersonId(r["person_id"]),
                from_ts(r["at"]),
                ContactKind(r["kind"]),
                None if r["by_id"] is None else PersonId(r["by_id"]),
                r["note"],
            )
        # Their own: anything they wrote, and check-ins they answered themselves.
        for r in await self._all(
            "SELECT person_id, max(at) AS at FROM messages WHERE person_id = ANY($1::bigint[]) "
            "GROUP BY person_id UNION ALL "
            "SELECT person_id, max(answered_at) FROM checkins "
            "WHERE person_id = ANY($1::bigint[]) AND state IN ('ok', 'help') "
            "AND answer <> ALL($2::text[]) GROUP BY person_id",
            (ids, _NOT_THEIRS),
        ):
            if r["at"] is None:
                continue
            person = PersonId(r["person_id"])
            known = found.get(person)
            at = from_ts(r["at"])
            if known is None or at > known.at:
                found[person] = HumanContact(person, at, ContactKind.ANSWER, person)
        return found

    async def add_call_attempt(
        self,
        checkin_id: CheckinId,
        caller: PersonId | None,
        at: datetime,
        outcome: CallOutcome,
        note: str = "",
    ) -> None:
        await self._run(
            "INSERT INTO call_attempts (checkin_id, caller_id, at, outcome, note) "
            "VALUES ($1,$2,$3,$4,$5)",
            (checkin_id, caller, ts(at), outcome.value, no_nul(note)),
        )

    async def call_attempts(self, checkin_id: CheckinId) -> list[CallAttempt]:
        rows = await self._all(
            "SELECT checkin_id, caller_id, at, outcome, note FROM call_attempts "
            "WHERE checkin_id = $1 ORDER BY at, id",
            (checkin_id,),
        )
        return [
            CallAttempt(
                CheckinId(r["checkin_id"]),
                None if r["caller_id"] is None else PersonId(r["caller_id"]),
                from_ts(r["at"]),
                CallOutcome(r["outcome"]),
                r["note"],
            )
            for r in rows
        ]

    async def call_outcome_counts(self, start: datetime, end: datetime) -> dict[str, int]:
        rows = await self._all(
            "SELECT outcome, count(*) AS n FROM call_attempts WHERE at >= $1 AND at < $2 "
            "GROUP BY outcome",
            (ts(start), ts(end)),
        )
        return {r["outcome"]: int(r["n"]) for r in rows}

    async def set_contact(self, person_id: PersonId, contact: str) -> None:
        await self._run("UPDATE people SET contact = $1 WHERE id = $2", (contact, person_id))

    async def call_residents(
        self, plan: str, timezone: str, grid: str = "", everyone: bool = False
    ) -> list[Person]:
        rows = await self._all(
            f"SELECT {_PERSON_COLUMNS} FROM people WHERE role = 'resident' AND active = 1 "
            "AND plan = $1 AND timezone = $2 AND ($3 = '' OR grid = $3) "
            "AND ($4 OR contact = 'phone') ORDER BY id",
            (plan, timezone, grid, everyone),
        )
        return [_person(r) for r in rows]

    async def recent_checkins(self, person_id: PersonId, limit: int) -> list[Checkin]:
        rows = await self._all(
            f"SELECT {_CHECKIN_COLUMNS} FROM checkins WHERE person_id = $1 "
            "ORDER BY due_at DESC, id DESC LIMIT $2",
            (person_id, limit),
        )
        return [_checkin(r) for r in rows]
