"""What the daily summary, the early-warning rules and the outage guard read."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from core.ids import CheckinId, PersonId
from core.watch import CheckinFact, ContactFact, PlatformDelivery, PromptCounts
from store.sqlite.base import Repo, from_ts, opt_ts, ts


def _grid_filter(grids: Sequence[str] | None, column: str) -> tuple[str, tuple[Any, ...]]:
    if grids is None:
        return "", ()
    return f" AND {column} IN ({','.join('?' * len(grids))})", tuple(grids)


def _latest(*values: float | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return from_ts(max(present)) if present else None


class WatchRepo(Repo):
    async def checkin_facts(
        self, since: datetime, until: datetime, grids: Sequence[str] | None
    ) -> list[CheckinFact]:
        only, params = _grid_filter(grids, "p.grid")
        rows = await self._all(
            "SELECT c.id, c.person_id, p.name, p.grid, p.timezone, c.due_at, c.deadline, "
            "c.state, c.answered_at, c.answer, "
            "(SELECT max(a.resolved_at) FROM alerts a WHERE a.checkin_id = c.id "
            " AND a.outcome = 'late_answer') AS late_at "
            "FROM checkins c JOIN people p ON p.id = c.person_id "
            "WHERE c.due_at >= ? AND c.due_at < ? AND p.active = 1 "
            f"AND p.deactivated_at IS NULL{only} ORDER BY c.person_id, c.due_at",
            (ts(since), ts(until), *params),
            bulk=True,
        )
        return [_checkin_fact(r) for r in rows]

    async def contact_facts(self, grids: Sequence[str] | None) -> list[ContactFact]:
        only, params = _grid_filter(grids, "p.grid")
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
            bulk=True,
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
        # Through the check-ins sent since then (indexed), not a scan of the outbox:
        # CROSS JOIN holds SQLite to that order. Left to itself (no statistics) it
        # walked the whole outbox, every message ever kept, to group by platform.
        rows = await self._all(
            "SELECT o.platform, count(*) AS total, "
            "sum(o.state = 'sent') AS delivered, "
            "sum(o.state = 'failed' OR (o.state = 'pending' AND o.attempts > 0)) AS failing "
            "FROM checkins c CROSS JOIN outbox o ON o.ref = c.id AND o.purpose = 'checkin' "
            "WHERE c.sent_at >= ? GROUP BY o.platform ORDER BY o.platform",
            (ts(since),),
        )
        return [
            PromptCounts(r["platform"], int(r["total"]), int(r["delivered"]), int(r["failing"]))
            for r in rows
        ]

    async def platform_delivery(self, platform: str, since: datetime) -> PlatformDelivery:
        # Read only while a platform is out (every few minutes): newest rows first, and
        # one delivery is enough to know sending works again.
        delivered = await self._one(
            "SELECT count(*) AS n FROM (SELECT 1 FROM outbox WHERE platform = ? "
            "AND state = 'sent' AND sent_at >= ? ORDER BY id DESC LIMIT 1)",
            (platform, ts(since)),
        )
        pending = await self._one(
            "SELECT count(*) AS n, coalesce(sum(attempts > 0), 0) AS retrying FROM outbox "
            "WHERE platform = ? AND state = 'pending'",
            (platform,),
        )
        assert delivered is not None and pending is not None
        return PlatformDelivery(int(delivered["n"]), int(pending["retrying"]), int(pending["n"]))


def _checkin_fact(r: sqlite3.Row) -> CheckinFact:
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
