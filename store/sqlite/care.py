"""Check-ins, alerts, who was notified, and the durable timers behind them."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime

from core.ids import AlertId, CheckinId, OutboxId, PersonId
from core.records import (
    OPEN_CHECKIN_STATES,
    Alert,
    AlertReason,
    AlertState,
    Checkin,
    CheckinState,
    NewAlert,
    Notification,
    Timer,
)
from store.sqlite.base import Repo, from_ts, in_list, marks, opt_ts, ts

_CHECKIN_COLUMNS = "id, person_id, plan, due_at, sent_at, deadline, state, answered_at"
_ALERT_COLUMNS = (
    "id, person_id, checkin_id, reason, urgent, state, policy, position, opened_at, detail, "
    "acked_by, acked_at, resolved_by, resolved_at, outcome, misses"
)
_OPEN_STATES = tuple(s.value for s in OPEN_CHECKIN_STATES)
# `ORDER BY +due_at` (not `due_at`) in the reads of a person's open check-ins: otherwise
# SQLite walks the person's whole history along the unique (person_id, plan, due_at)
# index to get the order for free, instead of looking up the one or two open ones in
# checkins_open (person_id, state) and sorting those.


def _checkin(row: sqlite3.Row, prompts: tuple[OutboxId, ...] = ()) -> Checkin:
    return Checkin(
        id=CheckinId(row["id"]),
        person_id=PersonId(row["person_id"]),
        plan=row["plan"],
        due_at=from_ts(row["due_at"]),
        sent_at=from_ts(row["sent_at"]),
        deadline=from_ts(row["deadline"]),
        state=CheckinState(row["state"]),
        answered_at=opt_ts(row["answered_at"]),
        prompt_outbox_ids=prompts,
    )


def _alert(row: sqlite3.Row) -> Alert:
    return Alert(
        id=AlertId(row["id"]),
        person_id=PersonId(row["person_id"]),
        checkin_id=None if row["checkin_id"] is None else CheckinId(row["checkin_id"]),
        reason=AlertReason(row["reason"]),
        urgent=bool(row["urgent"]),
        state=AlertState(row["state"]),
        policy=row["policy"],
        position=row["position"],
        opened_at=from_ts(row["opened_at"]),
        detail=row["detail"],
        acked_by=None if row["acked_by"] is None else PersonId(row["acked_by"]),
        acked_at=opt_ts(row["acked_at"]),
        resolved_by=None if row["resolved_by"] is None else PersonId(row["resolved_by"]),
        resolved_at=opt_ts(row["resolved_at"]),
        outcome=row["outcome"],
        misses=row["misses"],
    )


class CareRepo(Repo):
    # -- check-ins ----------------------------------------------------------------

    async def new_checkin_ids(self, count: int) -> list[CheckinId]:
        # Writes are one transaction at a time: nobody else draws ids until this one
        # has written its check-ins (or rolled back, giving them back).
        last = await self._one("SELECT coalesce(max(id), 0) AS id FROM checkins")
        first = int(last["id"]) + 1 if last is not None else 1
        return [CheckinId(i) for i in range(first, first + max(count, 0))]

    async def open_checkins(
        self,
        plan: str,
        due_at: datetime,
        sent_at: datetime,
        deadline: datetime,
        people: Sequence[PersonId],
        ids: Mapping[PersonId, CheckinId] | None = None,
    ) -> dict[PersonId, CheckinId]:
        due, sent, until = ts(due_at), ts(sent_at), ts(deadline)
        before = {
            PersonId(r["person_id"])
            for r in await self._all(
                "SELECT person_id FROM checkins WHERE plan = ? AND due_at = ?", (plan, due)
            )
        }
        fresh = [p for p in people if p not in before]
        if ids is None:
            await self._many(
                "INSERT OR IGNORE INTO checkins (person_id, plan, due_at, sent_at, deadline, "
                "state) VALUES (?,?,?,?,?,'sent')",
                [(p, plan, due, sent, until) for p in fresh],
            )
        else:
            await self._many(
                "INSERT OR IGNORE INTO checkins (id, person_id, plan, due_at, sent_at, "
                "deadline, state) VALUES (?,?,?,?,?,?,'sent')",
                [(ids[p], p, plan, due, sent, until) for p in fresh],
            )
        rows = await self._all(
            "SELECT id, person_id FROM checkins WHERE plan = ? AND due_at = ?", (plan, due)
        )
        wanted = set(fresh)
        return {
            PersonId(r["person_id"]): CheckinId(r["id"])
            for r in rows
            if r["person_id"] in wanted and (ids is None or ids[r["person_id"]] == r["id"])
        }

    async def checkin(self, checkin_id: int) -> Checkin | None:
        row = await self._one(
            f"SELECT {_CHECKIN_COLUMNS} FROM checkins WHERE id = ?", (checkin_id,)
        )
        return None if row is None else _checkin(row)

    async def checkins_by_id(self, checkin_ids: Sequence[CheckinId]) -> dict[CheckinId, Checkin]:
        if not checkin_ids:
            return {}
        places, params = in_list(checkin_ids)
        rows = await self._all(
            f"SELECT {_CHECKIN_COLUMNS} FROM checkins WHERE id IN ({places})", params
        )
        return {CheckinId(r["id"]): _checkin(r) for r in rows}

    async def open_checkin_of(self, person_id: PersonId) -> Checkin | None:
        row = await self._one(
            f"SELECT {_CHECKIN_COLUMNS} FROM checkins WHERE person_id = ? "
            f"AND state IN ({','.join('?' * len(_OPEN_STATES))}) ORDER BY +due_at DESC LIMIT 1",
            (person_id, *_OPEN_STATES),
        )
        return None if row is None else _checkin(row)

    async def set_checkin_state(
        self,
        checkin_id: CheckinId,
        state: CheckinState,
        *,
        only_if: Sequence[CheckinState],
        answered_at: datetime | None = None,
        answer: str = "",
    ) -> bool:
        """Compare-and-set: changes the state only from one of `only_if`."""
        changed = await self._run(
            f"UPDATE checkins SET state = ?, answered_at = coalesce(?, answered_at), "
            f"answer = CASE WHEN ? != '' THEN ? ELSE answer END "
            f"WHERE id = ? AND state IN ({','.join('?' * len(only_if))})",
            (
                state.value,
                None if answered_at is None else ts(answered_at),
                answer,
                answer,
                checkin_id,
                *[s.value for s in only_if],
            ),
        )
        return changed == 1

    async def set_checkin_states(
        self,
        checkin_ids: Sequence[CheckinId],
        state: CheckinState,
        *,
        only_if: Sequence[CheckinState],
    ) -> set[CheckinId]:
        """`set_checkin_state` of each (without an answer): the ids it changed."""
        if not checkin_ids:
            return set()
        places, params = in_list(checkin_ids)
        rows = await self._all(
            f"UPDATE checkins SET state = ? WHERE id IN ({places}) "
            f"AND state IN ({marks(len(only_if))}) RETURNING id",
            (state.value, *params, *[s.value for s in only_if]),
        )
        return {CheckinId(r["id"]) for r in rows}

    async def answer_checkins(
        self,
        answers: Sequence[tuple[CheckinId, str]],
        state: CheckinState,
        *,
        only_if: Sequence[CheckinState],
        answered_at: datetime,
    ) -> set[CheckinId]:
        by_answer: dict[str, list[CheckinId]] = {}
        for checkin_id, answer in answers:
            by_answer.setdefault(answer, []).append(checkin_id)
        changed: set[CheckinId] = set()
        for answer, ids in by_answer.items():
            places, params = in_list(ids)
            rows = await self._all(
                f"UPDATE checkins SET state = ?, answered_at = ?, "
                f"answer = CASE WHEN ? != '' THEN ? ELSE answer END "
                f"WHERE id IN ({places}) AND state IN ({marks(len(only_if))}) "
                "RETURNING id",
                (
                    state.value,
                    ts(answered_at),
                    answer,
                    answer,
                    *params,
                    *[s.value for s in only_if],
                ),
            )
            changed.update(CheckinId(r["id"]) for r in rows)
        return changed

    async def asked_since(self, since: datetime) -> set[PersonId]:
        """Residents already asked in this round: a check-in still open, or one sent at or
        after `since` (the round's scheduled time), whatever its answer."""
        recent = await self._all(
            "SELECT person_id FROM checkins WHERE sent_at >= ?", (ts(since),), bulk=True
        )
        # Literal states, so the partial index checkins_pending serves this.
        pending = await self._all(
            "SELECT person_id FROM checkins WHERE state IN ('sent', 'reminded')", bulk=True
        )
        return {PersonId(r["person_id"]) for r in (*recent, *pending)}

    async def open_checkins_of(self, person_id: PersonId) -> list[Checkin]:
        rows = await self._all(
            f"SELECT {_CHECKIN_COLUMNS} FROM checkins WHERE person_id = ? "
            f"AND state IN ({','.join('?' * len(_OPEN_STATES))}) ORDER BY +due_at DESC",
            (person_id, *_OPEN_STATES),
        )
        return [_checkin(r) for r in rows]

    async def open_checkins_of_each(
        self, person_ids: Sequence[PersonId]
    ) -> dict[PersonId, list[Checkin]]:
        if not person_ids:
            return {}
        places, params = in_list(person_ids)
        rows = await self._all(
            f"SELECT {_CHECKIN_COLUMNS} FROM checkins WHERE person_id IN ({places}) "
            f"AND state IN ({marks(len(_OPEN_STATES))}) ORDER BY +due_at DESC",
            (*params, *_OPEN_STATES),
        )
        found: dict[PersonId, list[Checkin]] = {}
        for r in rows:
            found.setdefault(PersonId(r["person_id"]), []).append(_checkin(r))
        return found

    async def prompt_delivered_at(self, checkin_id: CheckinId) -> datetime | None:
        """When the platform first accepted this check-in's prompt (None: not yet)."""
        row = await self._one(
            "SELECT min(sent_at) AS at FROM outbox WHERE ref = ? AND purpose = 'checkin' "
            "AND sent_at IS NOT NULL",
            (checkin_id,),
        )
        return None if row is None or row["at"] is None else from_ts(row["at"])

    async def prompts_delivered_at(
        self, checkin_ids: Sequence[CheckinId]
    ) -> dict[CheckinId, datetime]:
        if not checkin_ids:
            return {}
        places, params = in_list(checkin_ids)
        rows = await self._all(
            "SELECT ref, min(sent_at) AS at FROM outbox WHERE purpose = 'checkin' "
            f"AND ref IN ({places}) AND sent_at IS NOT NULL GROUP BY ref",
            params,
        )
        return {CheckinId(r["ref"]): from_ts(r["at"]) for r in rows}

    async def set_deadline(self, checkin_id: CheckinId, deadline: datetime) -> None:
        await self._run("UPDATE checkins SET deadline = ? WHERE id = ?", (ts(deadline), checkin_id))

    async def count_reminder(self, checkin_id: CheckinId) -> None:
        await self._run(
            "UPDATE checkins SET reminders_sent = reminders_sent + 1, state = 'reminded' "
            "WHERE id = ? AND state IN ('sent', 'reminded')",
            (checkin_id,),
        )

    async def checkin_outcomes(self) -> list[tuple[str, int, float | None, float, float]]:
        """(state, reminders sent, answered_at, sent_at, deadline) of every check-in."""
        rows = await self._all(
            "SELECT state, reminders_sent, answered_at, sent_at, deadline FROM checkins"
        )
        return [
            (r["state"], r["reminders_sent"], r["answered_at"], r["sent_at"], r["deadline"])
            for r in rows
        ]

    # -- alerts -------------------------------------------------------------------

    async def create_alert(
        self,
        person_id: PersonId,
        checkin_id: CheckinId | None,
        reason: AlertReason,
        urgent: bool,
        policy: str,
        now: datetime,
        detail: str,
        misses: int = 0,
    ) -> AlertId:
        return AlertId(
            await self._run(
                "INSERT INTO alerts (person_id, checkin_id, reason, urgent, state, policy, "
                "opened_at, detail, misses) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    person_id,
                    checkin_id,
                    reason.value,
                    int(urgent),
                    AlertState.OPEN.value,
                    policy,
                    ts(now),
                    detail,
                    misses,
                ),
            )
        )

    async def create_alerts(self, alerts: Sequence[NewAlert]) -> list[AlertId]:
        # One insert each: in-process statements are cheap, and each gives its id.
        return [
            AlertId(
                await self._run(
                    "INSERT INTO alerts (person_id, checkin_id, reason, urgent, state, policy, "
                    "opened_at, detail, misses, position) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        a.person_id,
                        a.checkin_id,
                        a.reason.value,
                        int(a.urgent),
                        AlertState.OPEN.value,
                        a.policy,
                        ts(a.opened_at),
                        a.detail,
                        a.misses,
                        a.position,
                    ),
                )
            )
            for a in alerts
        ]

    async def alert(self, alert_id: int) -> Alert | None:
        row = await self._one(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ?", (alert_id,))
        return None if row is None else _alert(row)

    async def unresolved_alert_of(self, person_id: PersonId) -> Alert | None:
        row = await self._one(
            f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE person_id = ? AND state != 'resolved' "
            "ORDER BY id DESC LIMIT 1",
            (person_id,),
        )
        return None if row is None else _alert(row)

    async def unresolved_alert_of_each(
        self, person_ids: Sequence[PersonId]
    ) -> dict[PersonId, Alert]:
        if not person_ids:
            return {}
        places, params = in_list(person_ids)
        rows = await self._all(
            f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE person_id IN ({places}) "
            "AND state != 'resolved' ORDER BY id",
            params,
        )
        # The newest of each person's, as unresolved_alert_of picks.
        return {PersonId(r["person_id"]): _alert(r) for r in rows}

    async def unresolved_alerts(self, grid: str | None = None) -> list[Alert]:
        if grid is None or grid == "":
            rows = await self._all(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE state != 'resolved' ORDER BY id"
            )
        else:
            rows = await self._all(
                f"SELECT {', '.join('a.' + c.strip() for c in _ALERT_COLUMNS.split(','))} "
                "FROM alerts a JOIN people p ON p.id = a.person_id "
                "WHERE a.state != 'resolved' AND p.grid = ? ORDER BY a.id",
                (grid,),
            )
        return [_alert(r) for r in rows]

    async def recent_alerts(self, limit: int = 50) -> list[Alert]:
        rows = await self._all(
            f"SELECT {_ALERT_COLUMNS} FROM alerts ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [_alert(r) for r in rows]

    async def advance_alert(self, alert_id: AlertId, position: int) -> None:
        await self._run("UPDATE alerts SET position = ? WHERE id = ?", (position, alert_id))

    async def reescalate_alert(
        self, alert_id: AlertId, checkin_id: CheckinId | None, misses: int
    ) -> bool:
        """Walk an unresolved alert again from its first step (a new miss on top of it):
        open again even if someone had acknowledged it and then nothing happened."""
        changed = await self._run(
            "UPDATE alerts SET state = 'open', position = 0, misses = ?, "
            "checkin_id = coalesce(?, checkin_id), acked_by = NULL, acked_at = NULL "
            "WHERE id = ? AND state != 'resolved'",
            (misses, checkin_id, alert_id),
        )
        return changed == 1

    async def mark_urgent(self, alert_id: AlertId) -> None:
        await self._run("UPDATE alerts SET urgent = 1 WHERE id = ?", (alert_id,))

    async def acknowledge_alert(self, alert_id: AlertId, by: PersonId, now: datetime) -> bool:
        changed = await self._run(
            "UPDATE alerts SET state = 'acknowledged', acked_by = ?, acked_at = ? "
            "WHERE id = ? AND state = 'open'",
            (by, ts(now), alert_id),
        )
        return changed == 1

    async def resolve_alert(
        self, alert_id: AlertId, by: PersonId | None, now: datetime, outcome: str
    ) -> bool:
        changed = await self._run(
            "UPDATE alerts SET state = 'resolved', resolved_by = ?, resolved_at = ?, "
            "outcome = ?, acked_at = coalesce(acked_at, ?), acked_by = coalesce(acked_by, ?) "
            "WHERE id = ? AND state != 'resolved'",
            (by, ts(now), outcome, ts(now), by, alert_id),
        )
        return changed == 1

    async def add_notification(
        self,
        alert_id: AlertId,
        person_id: PersonId | None,
        outbox_id: OutboxId,
        step: int,
        role: str,
        now: datetime,
    ) -> None:
        await self._run(
            "INSERT INTO alert_notifications (alert_id, person_id, outbox_id, step, role, at) "
            "VALUES (?,?,?,?,?,?)",
            (alert_id, person_id, outbox_id, step, role, ts(now)),
        )

    async def add_notifications(
        self,
        rows: Sequence[tuple[AlertId, PersonId | None, OutboxId, int, str, datetime]],
    ) -> None:
        await self._many(
            "INSERT INTO alert_notifications (alert_id, person_id, outbox_id, step, role, at) "
            "VALUES (?,?,?,?,?,?)",
            [(a, p, o, step, role, ts(at)) for a, p, o, step, role, at in rows],
        )

    async def notifications(self, alert_id: AlertId) -> list[Notification]:
        """Every copy of the alert sent, oldest first."""
        rows = await self._all(
            "SELECT rowid, person_id, outbox_id, step, role, at FROM alert_notifications "
            "WHERE alert_id = ? ORDER BY rowid",
            (alert_id,),
        )
        return [
            Notification(
                seq=r["rowid"],
                person_id=None if r["person_id"] is None else PersonId(r["person_id"]),
                outbox_id=OutboxId(r["outbox_id"]),
                step=r["step"],
                role=r["role"],
                at=from_ts(r["at"]),
            )
            for r in rows
        ]

    async def ack_delays(self) -> list[tuple[float, int]]:
        """(seconds from opening to acknowledgement, steps walked) of acknowledged alerts."""
        rows = await self._all(
            "SELECT acked_at - opened_at AS delay, position FROM alerts "
            "WHERE acked_at IS NOT NULL AND acked_by IS NOT NULL"
        )
        return [(float(r["delay"]), int(r["position"])) for r in rows]

    # -- timers -------------------------------------------------------------------

    async def add_timer(
        self, due_at: datetime, kind: str, ref: int, arg: str, now: datetime
    ) -> int:
        return await self._run(
            "INSERT INTO timers (due_at, kind, ref, arg, created_at) VALUES (?,?,?,?,?)",
            (ts(due_at), kind, ref, arg, ts(now)),
        )

    async def add_timers(
        self, timers: Sequence[tuple[datetime, str, int, str]], now: datetime
    ) -> None:
        created = ts(now)
        # A round's timers share a handful of due times: convert each once.
        stamps: dict[datetime, float] = {}
        await self._many(
            "INSERT INTO timers (due_at, kind, ref, arg, created_at) VALUES (?,?,?,?,?)",
            [
                (stamps.get(due) or stamps.setdefault(due, ts(due)), kind, ref, arg, created)
                for due, kind, ref, arg in timers
            ],
        )

    async def cancel_timers(self, ref: int, kinds: Sequence[str]) -> int:
        return await self._run(
            f"DELETE FROM timers WHERE ref = ? AND kind IN ({','.join('?' * len(kinds))})",
            (ref, *kinds),
        )

    async def cancel_timers_of(self, refs: Sequence[int], kinds: Sequence[str]) -> int:
        if not refs:
            return 0
        places, params = in_list(refs)
        return await self._run(
            f"DELETE FROM timers WHERE ref IN ({places}) AND kind IN ({marks(len(kinds))})",
            (*params, *kinds),
        )

    async def timers_of_kind(self, kind: str) -> list[Timer]:
        rows = await self._all(
            "SELECT id, due_at, kind, ref, arg FROM timers WHERE kind = ? ORDER BY due_at", (kind,)
        )
        return [_timer(r) for r in rows]

    async def due_timers(self, now: datetime, limit: int) -> list[Timer]:
        rows = await self._all(
            "SELECT id, due_at, kind, ref, arg FROM timers WHERE due_at <= ? "
            "ORDER BY due_at, id LIMIT ?",
            (ts(now), limit),
        )
        return [_timer(r) for r in rows]

    async def claim_timer(self, timer_id: int) -> bool:
        """Delete the row in the fire's own transaction: a timer fires at most once."""
        return await self._run("DELETE FROM timers WHERE id = ?", (timer_id,)) == 1

    async def claim_timers(self, timer_ids: Sequence[int]) -> set[int]:
        """`claim_timer` of each: the ids this transaction claimed."""
        if not timer_ids:
            return set()
        places, params = in_list(timer_ids)
        rows = await self._all(f"DELETE FROM timers WHERE id IN ({places}) RETURNING id", params)
        return {int(r["id"]) for r in rows}

    async def next_timer_due(self) -> datetime | None:
        row = await self._one("SELECT min(due_at) AS due FROM timers")
        return None if row is None or row["due"] is None else from_ts(row["due"])

    async def count_timers(self) -> int:
        row = await self._one("SELECT count(*) AS n FROM timers")
        return int(row["n"]) if row else 0


def _timer(row: sqlite3.Row) -> Timer:
    return Timer(
        id=row["id"],
        due_at=from_ts(row["due_at"]),
        kind=row["kind"],
        ref=row["ref"],
        arg=row["arg"],
    )
