"""What residents said and when they were last heard from; notes on alerts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.ids import AlertId, PersonId
from store.postgres.base import Repo, Row, no_nul
from store.postgres.records import AlertNote, Said, from_ts, opt_ts, ts


def _said(r: Row) -> Said:
    return Said(
        id=r["id"],
        person_id=PersonId(r["person_id"]),
        at=from_ts(r["at"]),
        kind=r["kind"],
        text=r["text"],
        intent=r["intent"],
    )


class HistoryRepo(Repo):
    async def add_message(
        self, person_id: PersonId, at: datetime, kind: str, text: str, intent: str
    ) -> int:
        return await self._insert(
            "INSERT INTO messages (person_id, at, kind, text, intent) "
            "VALUES ($1,$2,$3,$4,$5) RETURNING id",
            (person_id, ts(at), kind, no_nul(text), intent),
        )

    async def add_messages(
        self, messages: Sequence[tuple[PersonId, datetime, str, str, str]]
    ) -> None:
        # In the order given: ids ascend as add_message one by one would give them.
        if not messages:
            return
        await self._run(
            "INSERT INTO messages (person_id, at, kind, text, intent) "
            "SELECT p, a, k, t, i FROM unnest($1::bigint[], $2::float8[], $3::text[], "
            "$4::text[], $5::text[]) WITH ORDINALITY AS m(p, a, k, t, i, n) ORDER BY n",
            (
                [person_id for person_id, _, _, _, _ in messages],
                [ts(at) for _, at, _, _, _ in messages],
                [kind for _, _, kind, _, _ in messages],
                [no_nul(text) for _, _, _, text, _ in messages],
                [intent for _, _, _, _, intent in messages],
            ),
        )

    async def message(self, message_id: int) -> Said | None:
        row = await self._one(
            "SELECT id, person_id, at, kind, text, intent FROM messages WHERE id = $1",
            (message_id,),
        )
        return None if row is None else _said(row)

    async def messages_of(self, person_id: PersonId, limit: int = 50) -> list[Said]:
        rows = await self._all(
            "SELECT id, person_id, at, kind, text, intent FROM messages WHERE person_id = $1 "
            "ORDER BY at DESC, id DESC LIMIT $2",
            (person_id, limit),
        )
        return [_said(r) for r in rows]

    async def last_heard(self, person_id: PersonId) -> datetime | None:
        """The last sign of life: a message, or a check-in answered (a button, a reaction)."""
        at = await self._value(
            "SELECT max(at) FROM ("
            " SELECT max(at) AS at FROM messages WHERE person_id = $1"
            " UNION ALL SELECT max(answered_at) FROM checkins WHERE person_id = $1"
            "  AND state IN ('ok', 'help')) AS heard",
            (person_id,),
        )
        return opt_ts(at)

    async def last_heard_each(self, person_ids: Sequence[PersonId]) -> dict[PersonId, datetime]:
        if not person_ids:
            return {}
        rows = await self._all(
            "SELECT person_id, max(at) AS at FROM ("
            " SELECT person_id, max(at) AS at FROM messages"
            "  WHERE person_id = ANY($1::bigint[]) GROUP BY person_id"
            " UNION ALL SELECT person_id, max(answered_at) FROM checkins"
            "  WHERE person_id = ANY($1::bigint[]) AND state IN ('ok', 'help')"
            "  GROUP BY person_id) AS heard GROUP BY person_id",
            (list(person_ids),),
        )
        return {PersonId(r["person_id"]): from_ts(r["at"]) for r in rows if r["at"] is not None}

    async def misses_since(self, person_id: PersonId, since: datetime) -> int:
        return int(
            await self._value(
                "SELECT count(*) FROM checkins WHERE person_id = $1 AND due_at >= $2 "
                "AND state IN ('missed', 'unreachable')",
                (person_id, ts(since)),
            )
        )

    async def misses_since_each(
        self, person_ids: Sequence[PersonId], since: datetime
    ) -> dict[PersonId, int]:
        if not person_ids:
            return {}
        rows = await self._all(
            "SELECT person_id, count(*) AS n FROM checkins "
            "WHERE person_id = ANY($1::bigint[]) AND due_at >= $2 "
            "AND state IN ('missed', 'unreachable') GROUP BY person_id",
            (list(person_ids), ts(since)),
        )
        return {PersonId(r["person_id"]): int(r["n"]) for r in rows}

    async def pending_concern(self, person_id: PersonId) -> int | None:
        """The message whose "shall someone come?" question still waits for an answer."""
        found = await self._value(
            "SELECT m.id FROM messages m WHERE m.person_id = $1 AND m.intent = 'concern' "
            "AND EXISTS (SELECT 1 FROM timers t WHERE t.ref = m.id AND t.kind = 'concern') "
            "ORDER BY m.at DESC, m.id DESC LIMIT 1",
            (person_id,),
        )
        return None if found is None else int(found)

    async def pending_concerns(self, person_ids: Sequence[PersonId]) -> dict[PersonId, int]:
        if not person_ids:
            return {}
        rows = await self._all(
            "SELECT m.person_id, m.id FROM messages m "
            "WHERE m.person_id = ANY($1::bigint[]) AND m.intent = 'concern' "
            "AND EXISTS (SELECT 1 FROM timers t WHERE t.ref = m.id AND t.kind = 'concern') "
            "ORDER BY m.at, m.id",
            (list(person_ids),),
        )
        # The latest of each person's, as pending_concern picks.
        return {PersonId(r["person_id"]): int(r["id"]) for r in rows}

    async def replied_outbox_id(self, platform: str, chat: str, message_id: str) -> int | None:
        """The outbox row a reply in `chat` points at. Telegram numbers messages per
        chat, so the chat is part of the key."""
        found = await self._value(
            "SELECT id FROM outbox WHERE platform = $1 AND platform_message_id = $2 "
            "AND chat = $3 ORDER BY id LIMIT 1",
            (platform, message_id, chat),
        )
        return None if found is None else int(found)

    async def add_alert_note(
        self, alert_id: AlertId, person_id: PersonId | None, at: datetime, text: str
    ) -> None:
        await self._run(
            "INSERT INTO alert_notes (alert_id, person_id, at, text) VALUES ($1,$2,$3,$4)",
            (alert_id, person_id, ts(at), no_nul(text)),
        )

    async def alert_notes(self, alert_id: AlertId) -> list[AlertNote]:
        rows = await self._all(
            "SELECT alert_id, person_id, at, text FROM alert_notes WHERE alert_id = $1 "
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
