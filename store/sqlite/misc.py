"""Adapter key-value state, the audit log, and the counts behind status and metrics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from store.sqlite.base import Repo, ts


class MiscRepo(Repo):
    async def kv_get(self, key: str) -> str | None:
        row = await self._one("SELECT value FROM kv WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    async def kv_set(self, key: str, value: str) -> None:
        await self._run(
            "INSERT INTO kv (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def kv_setdefault(self, key: str, value: str) -> str:
        await self._run(
            "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (key, value)
        )
        row = await self._one("SELECT value FROM kv WHERE key = ?", (key,))
        assert row is not None  # written just now, in this transaction
        return str(row["value"])

    async def kv_advance(self, key: str, value: str) -> bool:
        # (The cursor's rowcount: `_run` answers lastrowid for an INSERT.)
        cursor = self.db.execute(
            "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) "
            "DO UPDATE SET value = excluded.value WHERE kv.value < excluded.value",
            (key, value),
        )
        return cursor.rowcount > 0

    async def audit(
        self,
        now: datetime,
        kind: str,
        subject: str = "",
        actor: int | None = None,
        detail: str = "",
    ) -> None:
        await self._run(
            "INSERT INTO audit (at, kind, subject, actor, detail) VALUES (?,?,?,?,?)",
            (ts(now), kind, subject, actor, detail),
        )

    async def audit_many(
        self, entries: Sequence[tuple[datetime, str, str, int | None, str]]
    ) -> None:
        await self._many(
            "INSERT INTO audit (at, kind, subject, actor, detail) VALUES (?,?,?,?,?)",
            [
                (ts(now), kind, subject, actor, detail)
                for now, kind, subject, actor, detail in entries
            ],
        )

    async def audit_of(self, subject: str) -> list[tuple[str, str]]:
        rows = await self._all(
            "SELECT kind, detail FROM audit WHERE subject = ? ORDER BY id", (subject,)
        )
        return [(r["kind"], r["detail"]) for r in rows]

    async def audit_kinds(self, kind: str) -> int:
        row = await self._one("SELECT count(*) AS n FROM audit WHERE kind = ?", (kind,))
        return int(row["n"]) if row else 0

    async def day_counts(self, start: datetime, end: datetime) -> list[dict[str, int | str]]:
        """Per grid, the check-ins due in [start, end) by how they stand."""
        rows = await self._all(
            "SELECT p.grid AS grid, "
            "sum(c.state IN ('sent','reminded')) AS pending, "
            "sum(c.state = 'ok') AS answered, "
            "sum(c.reminders_sent > 0) AS reminded, "
            "sum(c.state IN ('missed','unreachable')) AS alerted, "
            "sum(c.state = 'help') AS help, "
            "count(*) AS total "
            "FROM checkins c JOIN people p ON p.id = c.person_id "
            "WHERE c.due_at >= ? AND c.due_at < ? GROUP BY p.grid ORDER BY p.grid",
            (ts(start), ts(end)),
        )
        return [dict(r) for r in rows]

    async def checkin_state_counts(self) -> dict[str, int]:
        rows = await self._all("SELECT state, count(*) AS n FROM checkins GROUP BY state")
        return {r["state"]: r["n"] for r in rows}

    async def open_alert_count(self) -> int:
        row = await self._one("SELECT count(*) AS n FROM alerts WHERE state != 'resolved'")
        return int(row["n"]) if row else 0
