"""Adapter key-value state, the audit log, and the counts behind status and metrics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from store.postgres.base import Repo, no_nul
from store.postgres.records import ts


class MiscRepo(Repo):
    async def kv_get(self, key: str) -> str | None:
        value = await self._value("SELECT value FROM kv WHERE key = $1", (key,))
        return None if value is None else str(value)

    async def kv_set(self, key: str, value: str) -> None:
        await self._run(
            "INSERT INTO kv (key, value) VALUES ($1, $2) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def kv_setdefault(self, key: str, value: str) -> str:
        # The INSERT of a second instance waits for the first one's commit and then
        # does nothing; the SELECT after it (a statement of its own) sees that commit.
        await self._run(
            "INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            (key, value),
        )
        return str(await self._value("SELECT value FROM kv WHERE key = $1", (key,)))

    async def kv_advance(self, key: str, value: str) -> bool:
        # A second instance writing the same value waits for the first to commit, then
        # finds the value no longer smaller and changes nothing.
        return (
            await self._run(
                "INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) "
                "DO UPDATE SET value = excluded.value WHERE kv.value < excluded.value",
                (key, value),
            )
            > 0
        )

    async def audit(
        self,
        now: datetime,
        kind: str,
        subject: str = "",
        actor: int | None = None,
        detail: str = "",
    ) -> None:
        await self._run(
            "INSERT INTO audit (at, kind, subject, actor, detail) VALUES ($1,$2,$3,$4,$5)",
            (ts(now), kind, subject, actor, no_nul(detail)),
        )

    async def audit_many(
        self, entries: Sequence[tuple[datetime, str, str, int | None, str]]
    ) -> None:
        if not entries:
            return
        await self._run(
            "INSERT INTO audit (at, kind, subject, actor, detail) "
            "SELECT a, k, s, c, d FROM unnest($1::float8[], $2::text[], $3::text[], "
            "$4::bigint[], $5::text[]) WITH ORDINALITY AS e(a, k, s, c, d, n) ORDER BY n",
            (
                [ts(now) for now, _, _, _, _ in entries],
                [kind for _, kind, _, _, _ in entries],
                [subject for _, _, subject, _, _ in entries],
                [actor for _, _, _, actor, _ in entries],
                [no_nul(detail) for _, _, _, _, detail in entries],
            ),
        )

    async def audit_of(self, subject: str) -> list[tuple[str, str]]:
        rows = await self._all(
            "SELECT kind, detail FROM audit WHERE subject = $1 ORDER BY id", (subject,)
        )
        return [(r["kind"], r["detail"]) for r in rows]

    async def audit_kinds(self, kind: str) -> int:
        return int(await self._value("SELECT count(*) FROM audit WHERE kind = $1", (kind,)))

    async def day_counts(self, start: datetime, end: datetime) -> list[dict[str, int | str]]:
        """Per grid, the check-ins due in [start, end) by how they stand."""
        rows = await self._all(
            "SELECT p.grid AS grid, "
            "sum((c.state IN ('sent','reminded'))::int) AS pending, "
            "sum((c.state = 'ok')::int) AS answered, "
            "sum((c.reminders_sent > 0)::int) AS reminded, "
            "sum((c.state IN ('missed','unreachable'))::int) AS alerted, "
            "sum((c.state = 'help')::int) AS help, "
            "count(*) AS total "
            "FROM checkins c JOIN people p ON p.id = c.person_id "
            "WHERE c.due_at >= $1 AND c.due_at < $2 GROUP BY p.grid ORDER BY p.grid",
            (ts(start), ts(end)),
        )
        return [{key: value for key, value in r.items()} for r in rows]

    async def checkin_state_counts(self) -> dict[str, int]:
        rows = await self._all("SELECT state, count(*) AS n FROM checkins GROUP BY state")
        return {r["state"]: int(r["n"]) for r in rows}

    async def open_alert_count(self) -> int:
        return int(await self._value("SELECT count(*) FROM alerts WHERE state <> 'resolved'"))
