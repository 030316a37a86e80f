"""Time away, the last human contact with a resident, and the calls of call tasks."""

from __future__ import annotations

import sqlite3
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
from store.sqlite.base import Repo, from_ts, in_list, opt_ts, ts
from store.sqlite.care import _CHECKIN_COLUMNS, _checkin
from store.sqlite.people import _PERSON_COLUMNS, _person

_ABSENCE_COLUMNS = "id, person_id, starts_at, until_at, reason, set_by, ended_at"
# Check-in answers that were not the resident's own (a call, a visit, time away).
_NOT_THEIRS = (*PROXY_ANSWERS, AWAY_ANSWER)
# Residents are looked up this many at a time (SQLite's limit on parameters is 32,766).
_CHUNK = 500


def _absence(row: sqlite3.Row) -> Absence:
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
        return await self._run(
            "INSERT INTO absences (person_id, starts_at, until_at, reason, set_by) "
            "VALUES (?,?,?,?,?)",
            (person_id, ts(now), ts(until), reason, set_by),
        )

    async def absence(self, absence_id: int) -> Absence | None:
        row = await self._one(
            f"SELECT {_ABSENCE_COLUMNS} FROM absences WHERE id = ?", (absence_id,)
        )
        return None if row is None else _absence(row)

    async def current_absence(self, person_id: PersonId, at: datetime) -> Absence | None:
        row = await self._one(
            f"SELECT {_ABSENCE_COLUMNS} FROM absences WHERE person_id = ? "
            "AND ended_at IS NULL AND starts_at <= ? AND until_at > ? "
            "ORDER BY until_at DESC, id DESC LIMIT 1",
            (person_id, ts(at), ts(at)),
        )
        return None if row is None else _absence(row)

    async def away_among(self, person_ids: Sequence[PersonId], at: datetime) -> set[PersonId]:
        if not person_ids:
            return set()
        places, params = in_list(person_ids)
        rows = await self._all(
            f"SELECT DISTINCT person_id FROM absences WHERE person_id IN ({places}) "
            "AND ended_at IS NULL AND starts_at <= ? AND until_at > ?",
            (*params, ts(at), ts(at)),
        )
        return {PersonId(r["person_id"]) for r in rows}

    async def end_absence(self, absence_id: int, at: datetime) -> bool:
        changed = await self._run(
            "UPDATE absences SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
            (ts(at), absence_id),
        )
        return changed == 1

    async def away_at(self, at: datetime, grids: Sequence[str] | None = None) -> list[Absence]:
        rows = await self._all(
            "SELECT a.id, a.person_id, a.starts_at, a.until_at, a.reason, a.set_by, "
            "a.ended_at, p.grid FROM absences a JOIN people p ON p.id = a.person_id "
            "WHERE a.ended_at IS NULL AND a.starts_at <= ? AND a.until_at > ? "
            "ORDER BY a.until_at, a.id",
            (ts(at), ts(at)),
        )
        wanted = None if grids is None else set(grids)
        return [_absence(r) for r in rows if wanted is None or r["grid"] in wanted]

    async def absences_between(self, start: datetime, end: datetime) -> list[Absence]:
        rows = await self._all(
            f"SELECT {_ABSENCE_COLUMNS} FROM absences "
            "WHERE starts_at < ? AND coalesce(ended_at, until_at) > ? ORDER BY starts_at, id",
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
            "INSERT INTO contacts (person_id, at, kind, by_id, note) VALUES (?,?,?,?,?)",
            (person_id, ts(at), kind.value, by, note),
        )

    async def last_contact(self, person_id: PersonId) -> HumanContact | None:
        return (await self.last_contacts([person_id])).get(person_id)

    async def last_contacts(self, people: Sequence[PersonId]) -> dict[PersonId, HumanContact]:
        found: dict[PersonId, HumanContact] = {}

        def keep(contact: HumanContact) -> None:
            known = found.get(contact.person_id)
            if known is None or contact.at > known.at:
                found[contact.person_id] = contact

        unique = sorted(set(people))
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            # The latest call or visit per resident (SQLite takes the other columns
            # from the row that holds the max).
            for r in await self._all(
                "SELECT person_id, max(at) AS at, kind, by_id, note FROM contacts "
                f"WHERE person_id IN ({marks}) GROUP BY person_id",
                chunk,
            ):
                keep(
                    HumanContact(
                        PersonId(r["person_id"]),
                        from_ts(r["at"]),
                        ContactKind(r["kind"]),
                        None if r["by_id"] is None else PersonId(r["by_id"]),
                        r["note"],
                    )
                )
            # Their own: anything they wrote, and check-ins they answered themselves.
            for r in await self._all(
                f"SELECT person_id, max(at) AS at FROM messages WHERE person_id IN ({marks}) "
                "GROUP BY person_id UNION ALL "
                "SELECT person_id, max(answered_at) FROM checkins "
                f"WHERE person_id IN ({marks}) AND state IN ('ok', 'help') "
                f"AND answer NOT IN ({','.join('?' * len(_NOT_THEIRS))}) GROUP BY person_id",
                [*chunk, *chunk, *_NOT_THEIRS],
            ):
                if r["at"] is not None:
                    person = PersonId(r["person_id"])
                    keep(HumanContact(person, from_ts(r["at"]), ContactKind.ANSWER, person))
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
            "VALUES (?,?,?,?,?)",
            (checkin_id, caller, ts(at), outcome.value, note),
        )

    async def call_attempts(self, checkin_id: CheckinId) -> list[CallAttempt]:
        rows = await self._all(
            "SELECT checkin_id, caller_id, at, outcome, note FROM call_attempts "
            "WHERE checkin_id = ? ORDER BY at, id",
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
            "SELECT outcome, count(*) AS n FROM call_attempts WHERE at >= ? AND at < ? "
            "GROUP BY outcome",
            (ts(start), ts(end)),
        )
        return {r["outcome"]: int(r["n"]) for r in rows}

    async def set_contact(self, person_id: PersonId, contact: str) -> None:
        await self._run("UPDATE people SET contact = ? WHERE id = ?", (contact, person_id))

    async def call_residents(
        self, plan: str, timezone: str, grid: str = "", everyone: bool = False
    ) -> list[Person]:
        rows = await self._all(
            f"SELECT {_PERSON_COLUMNS} FROM people WHERE role = 'resident' AND active = 1 "
            "AND plan = ? AND timezone = ? AND (? = '' OR grid = ?) "
            "AND (? OR contact = 'phone') ORDER BY id",
            (plan, timezone, grid, grid, int(everyone)),
        )
        return [_person(r) for r in rows]

    async def recent_checkins(self, person_id: PersonId, limit: int) -> list[Checkin]:
        rows = await self._all(
            f"SELECT {_CHECKIN_COLUMNS} FROM checkins WHERE person_id = ? "
            "ORDER BY due_at DESC, id DESC LIMIT ?",
            (person_id, limit),
        )
        return [_checkin(r) for r in rows]
