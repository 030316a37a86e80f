"""Dead letters (what a platform sent that could not be read) and the reads behind
/healthz. See the SQLite store's module of the same name for why they are kept."""

from __future__ import annotations

from datetime import datetime

from core.commands import Priority
from store.postgres.base import Repo, no_nul
from store.postgres.records import HEALTH_KEY, MAX_RAW, MAX_REASON, DeadLetter, from_ts, ts


class DeadLetterRepo(Repo):
    async def add_dead_letter(
        self, platform: str, ref: str, raw: str, reason: str, now: datetime
    ) -> bool:
        """Keep one unreadable update; False when `ref` (the platform's own id for it,
        when it has one) was already kept — a page fetched again after a crash."""
        if len(raw) > MAX_RAW:
            raw = raw[:MAX_RAW] + f"… [{len(raw) - MAX_RAW} more characters]"
        changed = await self._run(
            "INSERT INTO dead_letters (platform, ref, raw, reason, received_at) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            (platform, no_nul(ref), no_nul(raw), no_nul(reason[:MAX_REASON]), ts(now)),
        )
        return changed > 0

    async def dead_letters(self, platform: str | None = None, limit: int = 100) -> list[DeadLetter]:
        """The newest dead letters first."""
        rows = await self._all(
            "SELECT id, platform, ref, raw, reason, received_at FROM dead_letters "
            "WHERE ($1::text IS NULL OR platform = $1) ORDER BY id DESC LIMIT $2",
            (platform or None, limit),
        )
        return [
            DeadLetter(
                r["id"], r["platform"], r["ref"], r["raw"], r["reason"], from_ts(r["received_at"])
            )
            for r in rows
        ]

    async def dead_letter_counts(self) -> dict[str, int]:
        rows = await self._all("SELECT platform, count(*) AS n FROM dead_letters GROUP BY platform")
        return {r["platform"]: int(r["n"]) for r in rows}

    async def oldest_pending(self, priority: Priority) -> tuple[str, datetime] | None:
        """The platform and creation time of the oldest message of this priority still
        waiting to be sent, if any."""
        row = await self._one(
            "SELECT platform, created_at FROM outbox WHERE state = 'pending' AND priority = $1 "
            "ORDER BY created_at, id LIMIT 1",
            (int(priority),),
        )
        return None if row is None else (str(row["platform"]), from_ts(row["created_at"]))

    async def write_check(self, now: datetime) -> None:
        """A tiny real write: whether the database can still take one."""
        await self._run(
            "INSERT INTO kv (key, value) VALUES ($1, $2) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (HEALTH_KEY, now.isoformat()),
        )
