"""Check-ins, alerts, who was notified, and the durable timers behind them."""

from __future__ import annotations

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
from store.postgres.base import COPY_FROM, Repo, Row
from store.postgres.records import from_ts, opt_ts, ts

_CHECKIN_COLUMNS = "id, person_id, plan, due_at, sent_at, deadline, state, answered_at"
_ALERT_COLUMNS = (
    "id, person_id, checkin_id, reason, urgent, state, policy, position, opened_at, detail, "
    "acked_by, acked_at, resolved_by, resolved_at, outcome, misses"
)
_A_ALERT_COLUMNS = ", ".join("a." + c.strip() for c in _ALERT_COLUMNS.split(","))
_OPEN_STATES = [s.value for s in OPEN_CHECKIN_STATES]


def _checkin(row: Row) -> Checkin:
    return Checkin(
        id=CheckinId(row["id"]),
        person_id=PersonId(row["person_id"]),
        plan=row["plan"],
        due_at=from_ts(row["due_at"]),
        sent_at=from_ts(row["sent_at"]),
        deadline=from_ts(row["deadline"]),
        state=CheckinState(row["state"]),
        answered_at=opt_ts(row["answered_at"]),
        prompt_outbox_ids=(),
    )


def _alert(row: Row) -> Alert:
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


def _timer(row: Row) -> Timer:
    return Timer(
        id=row["id"],
        due_at=from_ts(row["due_at"]),
        kind=row["kind"],
        ref=row["ref"],
        arg=row["arg"],
    )


class CareRepo(Repo):
    # -- check-ins ----------------------------------------------------------------

    async def new_checkin_ids(self, count: int) -> list[CheckinId]:
        if count <= 0:
            return []
        # The sequence by name (BIGSERIAL's): pg_get_serial_sequence() in the query
        # would be looked up once per row, six times the cost of the ids themselves.
        drawn = await self._value(
            "SELECT array_agg(nextval('checkins_id_seq'::regclass)) FROM generate_series(1, $1)",
            (count,),
        )
        return sorted(CheckinId(i) for i in drawn)

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
        # Whoever has a check-in at this time already, on this plan (the round
        # replayed) or on another (a clash on (person, due_at)), is left out.
        before = {
            PersonId(r["person_id"])
            for r in await self._all("SELECT person_id FROM checkins WHERE due_at = $1", (due,))
        }
        fresh = [p for p in people if p not in before]
        if not fresh:
            return {}
        if ids is not None and len(fresh) >= COPY_FROM:
            # A round's worth: COPY, which has no ON CONFLICT. Those who had this
            # check-in are left out above; one opened meanwhile by another instance
            # fails the round's transaction, and its retry leaves that one out too.
            await self._copy(
                "checkins",
                ("id", "person_id", "plan", "due_at", "sent_at", "deadline", "state"),
                ((ids[p], p, plan, due, sent, until, "sent") for p in fresh),
            )
            return {p: ids[p] for p in fresh}
        if ids is not None:
            # One statement, whatever its size; what it wrote is what it opened (a
            # clash on (person, due_at) writes nothing).
            rows = await self._all(
                "INSERT INTO checkins (id, person_id, plan, due_at, sent_at, deadline, state) "
                "SELECT i, p, $3, $4, $5, $6, 'sent' FROM unnest($1::bigint[], $2::bigint[]) "
                "AS n(i, p) ON CONFLICT DO NOTHING RETURNING person_id",
                ([ids[p] for p in fresh], fresh, plan, due, sent, until),
            )
            return {PersonId(r["person_id"]): ids[r["person_id"]] for r in rows}
        await self._run(
            "INSERT INTO checkins (person_id, plan, due_at, sent_at, deadline, state) "
            "SELECT p, $2, $3, $4, $5, 'sent' FROM unnest($1::bigint[]) AS p "
            "ON CONFLICT DO NOTHING",
            (fresh, plan, due, sent, until),
        )
        rows = await self._all(
            "SELECT id, person_id FROM checkins WHERE plan = $1 AND due_at = $2", (plan, due)
        )
        wanted = set(fresh)
        return {
            PersonId(r["person_id"]): CheckinId(r["id"]) for r in rows if r["person_id"] in wanted
        }

    async def checkin(self, checkin_id: int) -> Checkin | None:
        row = await self._one(
            f"SELECT {_CHECKIN_COLUMNS} FROM checkins WHERE id = $1", (checkin_id,)
        )
        return None if row is None else _checkin(row)

    async def checkins_by_id(self, checkin_ids: Sequence[CheckinId]) -> dict[CheckinId, Checkin]:
        if not checkin_ids:
            return {}
        rows = await self._all(
            f"SELECT {_CHECKIN_COLUMNS} FROM checkins WHERE id = ANY($1::bigint[])",
            (list(checkin_ids),),
        )
        return {CheckinId(r["id"]): _checkin(r) for r in rows}

    async def open_checkin_of(self, person_id: PersonId) -> Checkin | None:
        row = await self._one(
            f"SELECT {_CHECKIN_COLUMNS} FROM checkins WHERE person_id = $1 "
            "AND state = ANY($2::text[]) ORDER BY due_at DESC LIMIT 1",
            (person_id, _OPEN_STATES),
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
            "UPDATE checkins SET state = $1, answered_at = coalesce($2, answered_at), "
            "answer = CASE WHEN $3 <> '' THEN $3 ELSE answer END "
            "WHERE id = $4 AND state = ANY($5::text[])",
            (
                state.value,
                None if answered_at is None else ts(answered_at),
                answer,
                checkin_id,
                [s.value for s in only_if],
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
        rows = await self._all(
            "UPDATE checkins SET state = $1 WHERE id = ANY($2::bigint[]) "
            "AND state = ANY($3::text[]) RETURNING id",
            (state.value, list(checkin_ids), [s.value for s in only_if]),
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
        if not answers:
            return set()
        rows = await self._all(
            "UPDATE checkins c SET state = $1, answered_at = $2, "
            "answer = CASE WHEN a.answer <> '' THEN a.answer ELSE c.answer END "
            "FROM unnest($3::bigint[], $4::text[]) AS a(id, answer) "
            "WHERE c.id = a.id AND c.state = ANY($5::text[]) RETURNING c.id",
            (
                state.value,
                ts(answered_at),
                [checkin_id for checkin_id, _ in answers],
                [answer for _, answer in answers],
                [s.value for s in only_if],
            ),
        )
        return {CheckinId(r["id"]) for r in rows}

    async def asked_since(self, since: datetime) -> set[PersonId]:
        """Residents already asked in this round: a check-in still open, or one sent at or
        after `since` (the round's scheduled time), whatever its answer."""
        rows = await self._all(
            "SELECT person_id FROM checkins WHERE sent_at >= $1 "
            "UNION SELECT person_id FROM checkins WHERE state IN ('sent', 'reminded')",
            (ts(since),),
        )
        return {PersonId(r["person_id"]) for r in rows}

    async def open_checkins_of(self, person_id: PersonId) -> list[Checkin]:
        rows = await self._all(
            f"SELECT {_CHECKIN_COLUMNS} FROM checkins WHERE person_id = $1 "
            "AND state = ANY($2::text[]) ORDER BY due_at DESC",
            (person_id, _OPEN_STATES),
        )
        return [_checkin(r) for r in rows]

    async def open_checkins_of_each(
        self, person_ids: Sequence[PersonId]
    ) -> dict[PersonId, list[Checkin]]:
        if not person_ids:
            return {}
        rows = await self._all(
            f"SELECT {_CHECKIN_COLUMNS} FROM checkins WHERE person_id = ANY($1::bigint[]) "
            "AND state = ANY($2::text[]) ORDER BY due_at DESC",
            (list(person_ids), _OPEN_STATES),
        )
        found: dict[PersonId, list[Checkin]] = {}
        for r in rows:
            found.setdefault(PersonId(r["person_id"]), []).append(_checkin(r))
        return found

    async def prompt_delivered_at(self, checkin_id: CheckinId) -> datetime | None:
        """When the platform first accepted this check-in's prompt (None: not yet)."""
        at = await self._value(
            "SELECT min(sent_at) FROM outbox WHERE ref = $1 AND purpose = 'checkin' "
            "AND sent_at IS NOT NULL",
            (checkin_id,),
        )
        return opt_ts(at)

    async def prompts_delivered_at(
        self, checkin_ids: Sequence[CheckinId]
    ) -> dict[CheckinId, datetime]:
        if not checkin_ids:
            return {}
        rows = await self._all(
            "SELECT ref, min(sent_at) AS at FROM outbox WHERE purpose = 'checkin' "
            "AND ref = ANY($1::bigint[]) AND sent_at IS NOT NULL GROUP BY ref",
            (list(checkin_ids),),
        )
        return {CheckinId(r["ref"]): from_ts(r["at"]) for r in rows}

    async def set_deadline(self, checkin_id: CheckinId, deadline: datetime) -> None:
        await self._run(
            "UPDATE checkins SET deadline = $1 WHERE id = $2", (ts(deadline), checkin_id)
        )

    async def count_reminder(self, checkin_id: CheckinId) -> None:
        await self._run(
            "UPDATE checkins SET reminders_sent = reminders_sent + 1, state = 'reminded' "
            "WHERE id = $1 AND state IN ('sent', 'reminded')",
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
            await self._insert(
                "INSERT INTO alerts (person_id, checkin_id, reason, urgent, state, policy, "
                "opened_at, detail, misses) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING id",
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
        if not alerts:
            return []
        rows = await self._all(
            "INSERT INTO alerts (person_id, checkin_id, reason, urgent, state, policy, "
            "opened_at, detail, misses, position) "
            "SELECT p, c, r, u, 'open', y, o, d, m, n FROM unnest($1::bigint[], $2::bigint[], "
            "$3::text[], $4::int[], $5::text[], $6::float8[], $7::text[], $8::int[], $9::int[]) "
            "WITH ORDINALITY AS a(p, c, r, u, y, o, d, m, n, i) ORDER BY i RETURNING id",
            (
                [a.person_id for a in alerts],
                [a.checkin_id for a in alerts],
                [a.reason.value for a in alerts],
                [int(a.urgent) for a in alerts],
                [a.policy for a in alerts],
                [ts(a.opened_at) for a in alerts],
                [a.detail for a in alerts],
                [a.misses for a in alerts],
                [a.position for a in alerts],
            ),
        )
        # Ids are drawn in the order the rows are inserted (ORDER BY i): ascending.
        return sorted(AlertId(r["id"]) for r in rows)

    async def alert(self, alert_id: int) -> Alert | None:
        row = await self._one(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = $1", (alert_id,))
        return None if row is None else _alert(row)

    async def unresolved_alert_of(self, person_id: PersonId) -> Alert | None:
        row = await self._one(
            f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE person_id = $1 "
            "AND state <> 'resolved' ORDER BY id DESC LIMIT 1",
            (person_id,),
        )
        return None if row is None else _alert(row)

    async def unresolved_alert_of_each(
        self, person_ids: Sequence[PersonId]
    ) -> dict[PersonId, Alert]:
        if not person_ids:
            return {}
        rows = await self._all(
            f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE person_id = ANY($1::bigint[]) "
            "AND state <> 'resolved' ORDER BY id",
            (list(person_ids),),
        )
        # The newest of each person's, as unresolved_alert_of picks.
        return {PersonId(r["person_id"]): _alert(r) for r in rows}

    async def unresolved_alerts(self, grid: str | None = None) -> list[Alert]:
        if grid is None or grid == "":
            rows = await self._all(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE state <> 'resolved' ORDER BY id"
            )
        else:
            rows = await self._all(
                f"SELECT {_A_ALERT_COLUMNS} FROM alerts a JOIN people p ON p.id = a.person_id "
                "WHERE a.state <> 'resolved' AND p.grid = $1 ORDER BY a.id",
                (grid,),
            )
        return [_alert(r) for r in rows]

    async def recent_alerts(self, limit: int = 50) -> list[Alert]:
        rows = await self._all(
            f"SELECT {_ALERT_COLUMNS} FROM alerts ORDER BY id DESC LIMIT $1", (limit,)
        )
        return [_alert(r) for r in rows]

    async def advance_alert(self, alert_id: AlertId, position: int) -> None:
        await self._run("UPDATE alerts SET position = $1 WHERE id = $2", (position, alert_id))

    async def reescalate_alert(
        self, alert_id: AlertId, checkin_id: CheckinId | None, misses: int
    ) -> bool:
        """Walk an unresolved alert again from its first step (a new miss on top of it):
        open again even if someone had acknowledged it and then nothing happened."""
        changed = await self._run(
            "UPDATE alerts SET state = 'open', position = 0, misses = $1, "
            "checkin_id = coalesce($2, checkin_id), acked_by = NULL, acked_at = NULL "
            "WHERE id = $3 AND state <> 'resolved'",
            (misses, checkin_id, alert_id),
        )
        return changed == 1

    async def mark_urgent(self, alert_id: AlertId) -> None:
        await self._run("UPDATE alerts SET urgent = 1 WHERE id = $1", (alert_id,))

    async def acknowledge_alert(self, alert_id: AlertId, by: PersonId, now: datetime) -> bool:
        changed = await self._run(
            "UPDATE alerts SET state = 'acknowledged', acked_by = $1, acked_at = $2 "
            "WHERE id = $3 AND state = 'open'",
            (by, ts(now), alert_id),
        )
        return changed == 1

    async def resolve_alert(
        self, alert_id: AlertId, by: PersonId | None, now: datetime, outcome: str
    ) -> bool:
        changed = await self._run(
            "UPDATE alerts SET state = 'resolved', resolved_by = $1, resolved_at = $2, "
            "outcome = $3, acked_at = coalesce(acked_at, $2), acked_by = coalesce(acked_by, $1) "
            "WHERE id = $4 AND state <> 'resolved'",
            (by, ts(now), outcome, alert_id),
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
            "VALUES ($1,$2,$3,$4,$5,$6)",
            (alert_id, person_id, outbox_id, step, role, ts(now)),
        )

    async def add_notifications(
        self,
        rows: Sequence[tuple[AlertId, PersonId | None, OutboxId, int, str, datetime]],
    ) -> None:
        if not rows:
            return
        await self._run(
            "INSERT INTO alert_notifications (alert_id, person_id, outbox_id, step, role, at) "
            "SELECT a, p, o, s, r, t FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], "
            "$4::int[], $5::text[], $6::float8[]) WITH ORDINALITY AS x(a, p, o, s, r, t, n) "
            "ORDER BY n",
            (
                [a for a, _, _, _, _, _ in rows],
                [p for _, p, _, _, _, _ in rows],
                [o for _, _, o, _, _, _ in rows],
                [step for _, _, _, step, _, _ in rows],
                [role for _, _, _, _, role, _ in rows],
                [ts(at) for _, _, _, _, _, at in rows],
            ),
        )

    async def notifications(self, alert_id: AlertId) -> list[Notification]:
        """Every copy of the alert sent, oldest first."""
        rows = await self._all(
            "SELECT id, person_id, outbox_id, step, role, at FROM alert_notifications "
            "WHERE alert_id = $1 ORDER BY id",
            (alert_id,),
        )
        return [
            Notification(
                seq=r["id"],
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
        return await self._insert(
            "INSERT INTO timers (due_at, kind, ref, arg, created_at) "
            "VALUES ($1,$2,$3,$4,$5) RETURNING id",
            (ts(due_at), kind, ref, arg, ts(now)),
        )

    async def add_timers(
        self, timers: Sequence[tuple[datetime, str, int, str]], now: datetime
    ) -> None:
        if not timers:
            return
        if len(timers) >= COPY_FROM:
            at = ts(now)
            await self._copy(
                "timers",
                ("due_at", "kind", "ref", "arg", "created_at"),
                [(ts(due), kind, ref, arg, at) for due, kind, ref, arg in timers],
            )
            return
        # One statement for a whole round's timers, in the order given (ids ascend).
        await self._run(
            "INSERT INTO timers (due_at, kind, ref, arg, created_at) "
            "SELECT d, k, r, a, $5 FROM unnest($1::float8[], $2::text[], $3::bigint[], "
            "$4::text[]) WITH ORDINALITY AS t(d, k, r, a, n) ORDER BY n",
            (
                [ts(due) for due, _, _, _ in timers],
                [kind for _, kind, _, _ in timers],
                [ref for _, _, ref, _ in timers],
                [arg for _, _, _, arg in timers],
                ts(now),
            ),
        )

    async def cancel_timers(self, ref: int, kinds: Sequence[str]) -> int:
        return await self._run(
            "DELETE FROM timers WHERE ref = $1 AND kind = ANY($2::text[])", (ref, list(kinds))
        )

    async def cancel_timers_of(self, refs: Sequence[int], kinds: Sequence[str]) -> int:
        if not refs:
            return 0
        return await self._run(
            "DELETE FROM timers WHERE ref = ANY($1::bigint[]) AND kind = ANY($2::text[])",
            (list(refs), list(kinds)),
        )

    async def timers_of_kind(self, kind: str) -> list[Timer]:
        rows = await self._all(
            "SELECT id, due_at, kind, ref, arg FROM timers WHERE kind = $1 ORDER BY due_at",
            (kind,),
        )
        return [_timer(r) for r in rows]

    async def due_timers(self, now: datetime, limit: int) -> list[Timer]:
        """Timers due by `now`, earliest first. A plain read: two instances may both see
        a timer here; claim_timer decides which one fires it."""
        rows = await self._all(
            "SELECT id, due_at, kind, ref, arg FROM timers WHERE due_at <= $1 "
            "ORDER BY due_at, id LIMIT $2",
            (ts(now), limit),
        )
        return [_timer(r) for r in rows]

    async def claim_timer(self, timer_id: int) -> bool:
        """Delete the row in the fire's own transaction: a timer fires at most once.
        Another instance firing it right now holds its row: this one gets False at once
        instead of waiting (if that fire rolls back, the timer is due again next pass)."""
        claimed = await self._run(
            "DELETE FROM timers WHERE id = "
            "(SELECT id FROM timers WHERE id = $1 FOR UPDATE SKIP LOCKED)",
            (timer_id,),
        )
        return claimed == 1

    async def claim_timers(self, timer_ids: Sequence[int]) -> set[int]:
        """`claim_timer` of each: the ids this transaction claimed (rows another
        instance is firing are skipped, not waited for)."""
        if not timer_ids:
            return set()
        rows = await self._all(
            "DELETE FROM timers WHERE id IN (SELECT id FROM timers "
            "WHERE id = ANY($1::bigint[]) FOR UPDATE SKIP LOCKED) RETURNING id",
            (list(timer_ids),),
        )
        return {int(r["id"]) for r in rows}

    async def next_timer_due(self) -> datetime | None:
        return opt_ts(await self._value("SELECT min(due_at) FROM timers"))

    async def count_timers(self) -> int:
        return int(await self._value("SELECT count(*) FROM timers"))
