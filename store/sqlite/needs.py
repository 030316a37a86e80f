"""Needs: what a resident is short of, its owner team, its state and its history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import aiosqlite

from core.ids import PersonId
from core.records import Need
from store.sqlite.base import Repo, from_ts, opt_ts, ts

_COLUMNS = (
    "id, person_id, kind, text, team, state, created_by, created_at, claimed_by, claimed_at, "
    "closed_by, closed_at"
)


def _need(row: aiosqlite.Row) -> Need:
    def pid(value: Any) -> PersonId | None:
        return None if value is None else PersonId(value)

    return Need(
        id=row["id"],
        person_id=PersonId(row["person_id"]),
        kind=row["kind"],
        text=row["text"],
        team=row["team"],
        state=row["state"],
        created_by=pid(row["created_by"]),
        created_at=from_ts(row["created_at"]),
        claimed_by=pid(row["claimed_by"]),
        claimed_at=opt_ts(row["claimed_at"]),
        closed_by=pid(row["closed_by"]),
        closed_at=opt_ts(row["closed_at"]),
    )


class NeedsRepo(Repo):
    async def create_need(
        self,
        person_id: PersonId,
        kind: str,
        text: str,
        team: str,
        created_by: PersonId | None,
        now: datetime,
    ) -> int:
        need_id = await self._run(
            "INSERT INTO needs (person_id, kind, text, team, state, created_by, created_at) "
            "VALUES (?,?,?,?,'open',?,?)",
            (person_id, kind, text, team, created_by, ts(now)),
        )
        await self.need_history(need_id, now, created_by, "opened", text)
        return need_id

    async def need(self, need_id: int) -> Need | None:
        row = await self._one(f"SELECT {_COLUMNS} FROM needs WHERE id = ?", (need_id,))
        return None if row is None else _need(row)

    async def need_history(
        self, need_id: int, now: datetime, actor: PersonId | None, action: str, detail: str = ""
    ) -> None:
        await self._run(
            "INSERT INTO need_events (need_id, at, actor, action, detail) VALUES (?,?,?,?,?)",
            (need_id, ts(now), actor, action, detail),
        )

    async def claim_need(self, need_id: int, by: PersonId, now: datetime) -> bool:
        changed = await self._run(
            "UPDATE needs SET state = 'claimed', claimed_by = ?, claimed_at = ? "
            "WHERE id = ? AND state = 'open'",
            (by, ts(now), need_id),
        )
        if changed:
            await self.need_history(need_id, now, by, "claimed")
        return changed == 1

    async def close_need(self, need_id: int, by: PersonId, now: datetime, state: str) -> bool:
        changed = await self._run(
            "UPDATE needs SET state = ?, closed_by = ?, closed_at = ?, "
            "claimed_by = coalesce(claimed_by, ?), claimed_at = coalesce(claimed_at, ?) "
            "WHERE id = ? AND state IN ('open', 'claimed')",
            (state, by, ts(now), by, ts(now), need_id),
        )
        if changed:
            await self.need_history(need_id, now, by, state)
        return changed == 1

    async def needs_export_rows(self) -> list[dict[str, Any]]:
        rows = await self._all(
            "SELECT n.id, n.created_at, p.name AS resident, p.grid, p.building, p.phone, "
            "n.kind, n.text, n.team, n.state, c.name AS created_by, k.name AS claimed_by, "
            "n.claimed_at, d.name AS closed_by, n.closed_at, "
            "(SELECT group_concat(e.action, ' > ') FROM need_events e WHERE e.need_id = n.id) "
            "AS history "
            "FROM needs n JOIN people p ON p.id = n.person_id "
            "LEFT JOIN people c ON c.id = n.created_by LEFT JOIN people k ON k.id = n.claimed_by "
            "LEFT JOIN people d ON d.id = n.closed_by ORDER BY n.id"
        )
        return [dict(r) for r in rows]
