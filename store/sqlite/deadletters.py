"""Dead letters (what a platform sent that could not be read) and the reads behind
/healthz.

A malformed update is set aside here instead of being retried forever: the adapter
writes it, then moves its cursor past it, so one bad update cannot stop every later
answer or call for help from arriving. The raw text is kept (bounded) for an operator
to look at; dead letters are never purged, so their count is a true running total.
"""

from __future__ import annotations

from datetime import datetime

from core.commands import Priority
from core.records import DeadLetter
from store.sqlite.base import Repo, from_ts, ts

# A Telegram update is a few KiB; anything longer is kept only in part.
MAX_RAW = 16_384
MAX_REASON = 500
HEALTH_KEY = "health.write_check"


class DeadLetterRepo(Repo):
    async def add_dead_letter(
        self, platform: str, ref: str, raw: str, reason: str, now: datetime
    ) -> bool:
        """Keep one unreadable update; False when `ref` (the platform's own id for it,
        when it has one) was already kept — a page fetched again after a crash."""
        if len(raw) > MAX_RAW:
            raw = raw[:MAX_RAW] + f"… [{len(raw) - MAX_RAW} more characters]"
        # rowcount, not _run: for an INSERT that returns lastrowid, which an ignored
        # insert leaves at the previous row's id.
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO dead_letters (platform, ref, raw, reason, received_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (platform, ref, raw, reason[:MAX_REASON], ts(now)),
        )
        return cursor.rowcount > 0

    async def dead_letters(self, platform: str | None = None, limit: int = 100) -> list[DeadLetter]:
        """The newest dead letters first."""
        where, params = ("WHERE platform = ? ", [platform]) if platform else ("", [])
        rows = await self._all(
            "SELECT id, platform, ref, raw, reason, received_at FROM dead_letters "
            + where
            + "ORDER BY id DESC LIMIT ?",
            [*params, limit],
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
        # Reads every pending row's index entry (~7 ms behind a round of 100,000
        # prompts): on aiosqlite's thread, so the loop keeps serving meanwhile.
        rows = await self._all(
            "SELECT platform, created_at FROM outbox WHERE state = 'pending' AND priority = ? "
            "ORDER BY created_at LIMIT 1",
            (int(priority),),
            bulk=True,
        )
        return (str(rows[0]["platform"]), from_ts(rows[0]["created_at"])) if rows else None

    async def write_check(self, now: datetime) -> None:
        """A tiny real write: whether the database can still take one."""
        await self._run(
            "INSERT INTO kv (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (HEALTH_KEY, now.isoformat()),
        )
