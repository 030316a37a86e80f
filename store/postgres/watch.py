"""What the daily summary, the early-warning rules and the outage guard read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from core.ids import CheckinId, PersonId
from core.watch import CheckinFact, ContactFact, PlatformDelivery, PromptCounts
from store.postgres.base import Repo, Row
from store.postgres.records import from_ts, opt_ts, ts


def _grid_filter(
    grids: Sequence[str] | None, column: str, number: int
) -> tuple[str, tuple[Any, ...]]:
    if grids is None:
        return "", ()
    return f" AND {column} = ANY(${number}::text[])", (list(grids),)


def _latest(*values: float | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return from_ts(max(present)) if present else None


class WatchRepo(Repo):
    async def checkin_facts(
        self, since: datetime, until: datetime, grids: Sequence[str] | None
    ) -> list[CheckinFact]:
        only, params = _grid_filter(grids, "p.grid", 3)
        rows = await self._all(
            "SELECT c.id, c.person_id, p.name, p.grid, p.timezone, c.due_at, c.deadline, "
            "c.state, c.answered_at, c.answer, "
            "(SELECT max(a.resolved_at) FROM alerts a WHERE a.checkin_id = c.id "
            " AND a.outcome = 'late_answer') AS late_at "
            "FROM checkins c JOIN people p ON p.id = c.person_id "
            "WHERE c.due_at >= $1 AND c.due_at < $2 AND p.active = 1 "
            f"AND p.deactivated_at IS NULL{only} ORDER BY c.person_id, c.due_at",
            (ts(since), ts(until), *params),
        )
        return [_checkin_fact(r) for r in rows]

    async def contact_facts(self, grids: Sequence[str] | None) -> list[ContactFact]:
        only, params = _grid_filter(grids, "p.grid", 1)
        rows = await self._all(
            "SELECT p.id, p.name, p.grid, p.risk, p.created_at, "
            "(SELECT max(c.answered_at) FROM checkins c WHERE c.person_id = p.id "
            " AND c.state IN ('ok', 'help')) AS answered, "
            "(SELECT max(m.at) FROM messages m WHERE m.person_id = p.id) AS said, "
            "(SELECT max(a.resolved_at) FROM alerts a WHERE a.person_id = p.id "
            " AND a.outcome = 'late_answer') AS late "
            "FROM people p WHERE p.role = 'resident' AND p.active = 1 "
            f"AND p.deactivated_at IS NULL{only} ORDER BY p.id",
            params,
        )
        return [
            ContactFact(
                person_id=PersonId(r["id"]),
                name=r["name"],
                grid=r["grid"],
                risk=r["risk"],
                enrolled_at=from_ts(r["created_at"]),
                last_answer=_latest(r["answered"], r["said"], r["late"]),
            )
            for r in rows
        ]

    async def prompt_counts(self, since: datetime) -> list[PromptCounts]:
        rows = await self._all(
            "SELECT o.platform, count(*) AS total, "
            "count(*) FILTER (WHERE o.state = 'sent') AS delivered, "
            "count(*) FILTER (WHERE o.state = 'failed' "
            " OR (o.state = 'pending' AND o.attempts > 0)) AS failing "
            "FROM checkins c JOIN outbox o ON o.ref = c.id AND o.purpose = 'checkin' "
            "WHERE c.sent_at >= $1 GROUP BY o.platform ORDER BY o.platform",
            (ts(since),),
        )
        return [
            PromptCounts(r["platform"], int(r["total"]), int(r["delivered"]), int(r["failing"]))
            for r in rows
        ]

    async def platform_delivery(self, platform: str, since: datetime) -> PlatformDelivery:
        delivered = await self._value(
            "SELECT count(*) FROM (SELECT 1 FROM outbox WHERE platform = $1 "
            "AND state = 'sent' AND sent_at >= $2 ORDER BY id DESC LIMIT 1) AS recent",
            (platform, ts(since)),
        )
        pending = await self._one(
            "SELECT count(*) AS n, count(*) FILTER (WHERE attempts > 0) AS retrying "
            "FROM outbox WHERE platform = $1 AND state = 'pending'",
            (platform,),
        )
        assert pending is not None
        return PlatformDelivery(int(delivered), int(pending["retrying"]), int(pending["n"]))


def _checkin_fact(r: Row) -> CheckinFact:
    return CheckinFact(
        id=CheckinId(r["id"]),
        person_id=PersonId(r["person_id"]),
        name=r["name"],
        grid=r["grid"],
        timezone=r["timezone"],
        due_at=from_ts(r["due_at"]),
        deadline=from_ts(r["deadline"]),
        state=r["state"],
        answered_at=opt_ts(r["answered_at"]),
        late_at=opt_ts(r["late_at"]),
        answer=r["answer"],
    )
