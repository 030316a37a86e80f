"""What residents said and when they were last heard from; notes on alerts."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from core.ids import AlertId, PersonId
from core.records import AlertNote, Said
from store.sqlite.base import Repo, from_ts, in_list, ts


class HistoryRepo(Repo):
    async def add_message(
        self, person_id: PersonId, at: datetime, kind: str, text: str, intent: str
    ) -> int:
        return await self._run(
            "INSERT INTO messages (person_id, at, kind, text, intent) VALUES (?,?,?,?,?)",
            (person_id, ts(at), kind, text, intent),
        )

    async def add_messages(
        self, messages: Sequence[tuple[PersonId, datetime, str, str, str]]
    ) -> None:
        await self._many(
            "INSERT INTO messages (person_id, at, kind, text, intent) VALUES (?,?,?,?,?)",
            [
                (person_id, ts(at), kind, text, intent)
                for person_id, at, kind, text, intent in messages
            ],
        )

    async def message(self, message_id: int) -> Said | None:
        row = await self._one(
            "SELECT id, person_id, at, kind, text, intent FROM messages WHERE id = ?",
            (message_id,),
        )
        return None if row is None else _said(row)

    async def messages_of(self, person_id: PersonId, limit: int = 50) -> list[Said]:
        rows = await self._all(
            "SELECT id, person_id, at, kind, text, intent FROM messages WHERE person_id = ? "
            "ORDER BY at DESC, id DESC LIMIT ?",
            (person_id, limit),
        )
        return [_said(r) for r in rows]

    async def last_heard(self, person_id: PersonId) -> datetime | None:
        """The last sign of life: a message, or a check-in answered (a button, a reaction)."""
        row = await self._one(
            "SELECT max(at) AS at FROM ("
            " SELECT max(at) AS at FROM messages WHERE person_id = ?"
            " UNION ALL SELECT max(answered_at) FROM checkins WHERE person_id = ?"
            "  AND state IN ('ok', 'help'))",
            (person_id, person_id),
        )
        return None if row is None or row["at"] is None else from_ts(row["at"])

    async def last_heard_each(self, person_ids: Sequence[PersonId]) -> dict[PersonId, datetime]:
        if not person_ids:
            return {}
        places, params = in_list(person_ids)
        rows = await self._all(
            "SELECT person_id, max(at) AS at FROM ("
            f" SELECT person_id, max(at) AS at FROM messages WHERE person_id IN ({places})"
            "  GROUP BY person_id"
            " UNION ALL SELECT person_id, max(answered_at) FROM checkins"
            f"  WHERE person_id IN ({places}) AND state IN ('ok', 'help') GROUP BY person_id)"
            " GROUP BY person_id",
            (*params, *params),
        )
        return {PersonId(r["person_id"]): from_ts(r["at"]) for r in rows if r["at"] is not None}

    async def misses_since(self, person_id: PersonId, since: datetime) -> int:
        row = await self._one(
            # +due_at: the few missed ones through checkins_open (person_id, state), not
            # the person's whole history along the unique (person_id, plan, due_at).
            "SELECT count(*) AS n FROM checkins WHERE person_id = ? AND +due_at >= ? "
            "AND state IN ('missed', 'unreachable')",
            (person_id, ts(since)),
        )
        return int(row["n"]) if row else 0

    async def misses_since_each(
        self, person_ids: Sequence[PersonId], since: datetime
    ) -> dict[PersonId, int]:
        if not person_ids:
            return {}
        places, params = in_list(person_ids)
        rows = await self._all(
            "SELECT person_id, count(*) AS n FROM checkins "
            f"WHERE person_id IN ({places}) AND +due_at >= ? "
            "AND state IN ('missed', 'unreachable') GROUP BY person_id",
            (*params, ts(since)),
        )
        return {PersonId(r["person_id"]): int(r["n"]) for r in rows}

    async def pending_concern(self, person_id: PersonId) -> int | None:
        """The message whose "shall someone come?" question still waits for an answer."""
        row = await self._one(
            "SELECT m.id FROM messages m WHERE m.person_id = ? AND m.intent = 'concern' "
            "AND EXISTS (SELECT 1 FROM timers t WHERE t.ref = m.id AND t.kind = 'concern') "
            "ORDER BY m.at DESC, m.id DESC LIMIT 1",
            (person_id,),
        )
        return None if row is None else int(row["id"])

    async def pending_concerns(self, person_ids: Sequence[PersonId]) -> dict[PersonId, int]:
        if not person_ids:
            return {}
        places, params = in_list(person_ids)
        rows = await self._all(
            "SELECT m.person_id, m.id FROM messages m "
            f"WHERE m.person_id IN ({places}) AND m.intent = 'concern' "
            "AND EXISTS (SELECT 1 FROM timers t WHERE t.ref = m.id AND t.kind = 'concern') "
            "ORDER BY m.at, m.id",
            params,
        )
        # The latest of each person's, as pending_concern picks.
        return {PersonId(r["person_id"]): int(r["id"]) for r in rows}

    async def replied_outbox_id(self, platform: str, chat: str, message_id: str) -> int | None:
        """The outbox row a reply in `chat` points at. Telegram numbers messages per
        chat, so the chat is part of the key."""
        row = await self._one(
            "SELECT id FROM outbox WHERE platform = ? AND platform_message_id = ? AND chat = ? "
            "ORDER BY id LIMIT 1",
            (platform, message_id, chat),
        )
        return None if row is None else int(row["id"])

    async def add_alert_note(
        self, alert_id: AlertId, person_id: PersonId | None, at: datetime, text: str
    ) -> None:
        await self._run(
            "INSERT INTO alert_notes (alert_id, person_id, at, text) VALUES (?,?,?,?)",
            (alert_id, person_id, ts(at), text),
        )

    async def alert_notes(self, alert_id: AlertId) -> list[AlertNote]:
        rows = await self._all(
            "SELECT alert_id, person_id, at, text FROM alert_notes WHERE alert_id = ? "
            "ORDER BY at, id",
            (alert_id,),
        )
        return [
            AlertNote(
                AlertId(r["alert_id"]),
                None if r["person_id"] is None else PersonId(r["person_id"]),
                from_ts(r["at"]),
                r["text"],
            )
            for r in rows
        ]


def _said(r: sqlite3.Row) -> Said:
    return Said(
        id=r["id"],
        person_id=PersonId(r["person_id"]),
        at=from_ts(r["at"]),
        kind=r["kind"],
        text=r["text"],
        intent=r["intent"],
    )
