"""What the web console's pages read, each in a few statements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from core.console import AckTime, AuditEntry, CheckinDay, DeliveryAttempt, ResidentRow
from core.ids import AlertId, OutboxId, PersonId
from core.records import Need, Timer
from store.postgres.base import Repo
from store.postgres.needs import _COLUMNS as _NEED_COLUMNS
from store.postgres.needs import _need
from store.postgres.records import from_ts, opt_ts, ts


def _in_grids(column: str, grids: Sequence[str] | None, first: int) -> tuple[str, tuple[Any, ...]]:
    """A WHERE fragment limiting `column` to `grids` (None: every grid), its parameter
    numbered `first`."""
    if grids is None:
        return "TRUE", ()
    return f"{column} = ANY(${first}::text[])", (list(grids),)


class ConsoleRepo(Repo):
    async def resident_rows(
        self, grids: Sequence[str] | None, platforms: Sequence[str] = ()
    ) -> list[ResidentRow]:
        only = "AND i.platform = ANY($1::text[])" if platforms else ""
        params: tuple[Any, ...] = (list(platforms),) if platforms else ()
        where, more = _in_grids("p.grid", grids, len(params) + 1)
        rows = await self._all(
            "SELECT p.id, p.name, p.grid, p.building, p.active, p.plan, p.timezone, p.language, "
            "c.state AS c_state, c.due_at, c.deadline, c.answered_at, c.reminders_sent, "
            "(SELECT max(at) FROM messages m WHERE m.person_id = p.id) AS said_at, "
            "(SELECT max(answered_at) FROM checkins k WHERE k.person_id = p.id "
            " AND k.state IN ('ok', 'help')) AS answered_last, "
            "a.id AS alert_id, a.state AS alert_state, a.reason AS alert_reason, "
            "a.urgent AS alert_urgent, coalesce(n.open_needs, 0) AS open_needs, "
            f"EXISTS (SELECT 1 FROM identities i WHERE i.person_id = p.id {only}) AS reachable, "
            # Not ended: the return (a timer) ends an absence when its time is over.
            "(SELECT max(until_at) FROM absences w WHERE w.person_id = p.id "
            " AND w.ended_at IS NULL) AS away_until "
            "FROM people p "
            "LEFT JOIN checkins c ON c.id = (SELECT id FROM checkins WHERE person_id = p.id "
            " ORDER BY due_at DESC, id DESC LIMIT 1) "
            "LEFT JOIN alerts a ON a.id = (SELECT id FROM alerts WHERE person_id = p.id "
            " AND state <> 'resolved' ORDER BY id DESC LIMIT 1) "
            "LEFT JOIN (SELECT person_id, count(*) AS open_needs FROM needs "
            " WHERE state IN ('open', 'claimed') GROUP BY person_id) n ON n.person_id = p.id "
            f"WHERE p.role = 'resident' AND p.deactivated_at IS NULL AND {where} "
            "ORDER BY p.grid, p.building, p.name",
            (*params, *more),
        )
        result = []
        for r in rows:
            heard = [t for t in (r["said_at"], r["answered_last"]) if t is not None]
            result.append(
                ResidentRow(
                    id=PersonId(r["id"]),
                    name=r["name"],
                    grid=r["grid"],
                    building=r["building"],
                    active=bool(r["active"]),
                    plan=r["plan"],
                    timezone=r["timezone"],
                    language=r["language"],
                    checkin_state=r["c_state"],
                    checkin_due=opt_ts(r["due_at"]),
                    checkin_deadline=opt_ts(r["deadline"]),
                    answered_at=opt_ts(r["answered_at"]),
                    reminders_sent=int(r["reminders_sent"] or 0),
                    last_heard=from_ts(max(heard)) if heard else None,
                    alert_id=None if r["alert_id"] is None else AlertId(r["alert_id"]),
                    alert_state=r["alert_state"],
                    alert_reason=r["alert_reason"],
                    alert_urgent=bool(r["alert_urgent"]),
                    open_needs=int(r["open_needs"]),
                    reachable=bool(r["reachable"]),
                    away_until=opt_ts(r["away_until"]),
                )
            )
        return result

    async def checkin_days(self, person_id: PersonId, since: datetime) -> list[CheckinDay]:
        rows = await self._all(
            "SELECT due_at, deadline, state, answered_at, reminders_sent FROM checkins "
            "WHERE person_id = $1 AND due_at >= $2 ORDER BY due_at",
            (person_id, ts(since)),
        )
        return [
            CheckinDay(
                due_at=from_ts(r["due_at"]),
                deadline=from_ts(r["deadline"]),
                state=r["state"],
                answered_at=opt_ts(r["answered_at"]),
                reminders_sent=int(r["reminders_sent"]),
            )
            for r in rows
        ]

    async def audit_entries(self, subject: str) -> list[AuditEntry]:
        rows = await self._all(
            "SELECT at, kind, actor, detail FROM audit WHERE subject = $1 ORDER BY id", (subject,)
        )
        return [
            AuditEntry(
                at=from_ts(r["at"]),
                kind=r["kind"],
                actor=None if r["actor"] is None else PersonId(r["actor"]),
                detail=r["detail"],
            )
            for r in rows
        ]

    async def attempts_of(
        self, outbox_ids: Sequence[OutboxId]
    ) -> dict[OutboxId, list[DeliveryAttempt]]:
        found: dict[OutboxId, list[DeliveryAttempt]] = {i: [] for i in outbox_ids}
        if not outbox_ids:
            return found
        rows = await self._all(
            "SELECT outbox_id, at, ok, permanent, error FROM delivery_attempts "
            "WHERE outbox_id = ANY($1::bigint[]) ORDER BY id",
            (list(outbox_ids),),
        )
        for r in rows:
            found[OutboxId(r["outbox_id"])].append(
                DeliveryAttempt(
                    at=from_ts(r["at"]),
                    ok=bool(r["ok"]),
                    permanent=bool(r["permanent"]),
                    error=r["error"],
                )
            )
        return found

    async def timers_of(self, ref: int, kind: str) -> list[Timer]:
        rows = await self._all(
            "SELECT id, due_at, kind, ref, arg FROM timers WHERE ref = $1 AND kind = $2 "
            "ORDER BY due_at",
            (ref, kind),
        )
        return [
            Timer(
                id=int(r["id"]),
                due_at=from_ts(r["due_at"]),
                kind=r["kind"],
                ref=int(r["ref"]),
                arg=r["arg"],
            )
            for r in rows
        ]

    async def needs_in(self, grids: Sequence[str] | None, closed_since: datetime) -> list[Need]:
        where, params = _in_grids("p.grid", grids, 2)
        columns = ", ".join(f"n.{c.strip()}" for c in _NEED_COLUMNS.split(","))
        rows = await self._all(
            f"SELECT {columns} FROM needs n JOIN people p ON p.id = n.person_id "
            f"WHERE {where} AND (n.state IN ('open', 'claimed') OR n.closed_at >= $1) "
            "ORDER BY n.id DESC",
            (ts(closed_since), *params),
        )
        return [_need(r) for r in rows]

    async def ack_times(self, grids: Sequence[str] | None, since: datetime) -> list[AckTime]:
        where, params = _in_grids("p.grid", grids, 2)
        rows = await self._all(
            "SELECT p.grid, a.opened_at, a.acked_at FROM alerts a "
            f"JOIN people p ON p.id = a.person_id WHERE {where} AND a.opened_at >= $1 "
            "ORDER BY a.opened_at",
            (ts(since), *params),
        )
        return [
            AckTime(
                grid=r["grid"], opened_at=from_ts(r["opened_at"]), acked_at=opt_ts(r["acked_at"])
            )
            for r in rows
        ]

    async def set_deactivated(self, person_id: PersonId, when: datetime | None) -> None:
        # Someone who left is asked nothing; brought back, they are asked again.
        await self._run(
            "UPDATE people SET deactivated_at = $1, active = $2 WHERE id = $3",
            (None if when is None else ts(when), int(when is None), person_id),
        )

    async def deactivated_people(self) -> set[PersonId]:
        rows = await self._all("SELECT id FROM people WHERE deactivated_at IS NOT NULL")
        return {PersonId(r["id"]) for r in rows}
