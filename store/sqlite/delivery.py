"""The inbox (inbound events, deduplicated) and the outbox (outbound messages)."""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from core.commands import Priority
from core.ids import ChatRef, OutboxId, PersonId
from core.outbox import NewMessage, OutboxRow, encode_payload
from store.outbox_rows import ENQUEUE_COLUMNS, message_row
from store.sqlite.base import Repo, from_ts, in_list, marks, ts

# Messages made as they are read are written this many at a time (see enqueue_many).
ENQUEUE_CHUNK = 2000
_ENQUEUE = (
    f"INSERT INTO outbox ({', '.join(ENQUEUE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(ENQUEUE_COLUMNS))})"
)

_OUTBOX_SELECT = (
    "SELECT o.id, o.platform, o.chat, o.person_id, o.priority, o.purpose, o.ref, o.payload, "
    "o.edit_of, o.state, o.attempts, o.not_before, o.platform_message_id, "
    "t.platform_message_id AS target_message_id, t.state AS target_state "
    "FROM outbox o LEFT JOIN outbox t ON t.id = o.edit_of "
)


# For rows that are not edits (edit_of IS NULL) there is nothing to join.
_ORIGINALS_SELECT = (
    "SELECT o.id, o.platform, o.chat, o.person_id, o.priority, o.purpose, o.ref, o.payload, "
    "o.edit_of, o.state, o.attempts, o.not_before, o.platform_message_id, "
    "NULL AS target_message_id, NULL AS target_state FROM outbox o "
)


# Read along the outbox_pending index in (priority, id) order.
_SENDABLE = (
    _OUTBOX_SELECT + "WHERE o.platform = ? AND o.state = 'pending' AND o.not_before <= ? "
    "AND (o.edit_of IS NULL OR t.state != 'pending') "
)


def _outbox(row: sqlite3.Row) -> OutboxRow:
    return OutboxRow(
        id=OutboxId(row["id"]),
        platform=row["platform"],
        chat=ChatRef(row["chat"]),
        person_id=None if row["person_id"] is None else PersonId(row["person_id"]),
        priority=Priority(row["priority"]),
        purpose=row["purpose"],
        ref=row["ref"],
        payload_json=row["payload"],
        edit_of=None if row["edit_of"] is None else OutboxId(row["edit_of"]),
        edit_target_message_id=row["target_message_id"] or "",
        state=row["state"],
        attempts=row["attempts"],
        not_before=from_ts(row["not_before"]),
        platform_message_id=row["platform_message_id"] or "",
    )


class DeliveryRepo(Repo):
    # -- inbox ----------------------------------------------------------------------

    async def store_inbound(
        self, platform: str, event_id: str, payload: dict[str, Any], now: datetime
    ) -> bool:
        """Insert an inbound event; False when this platform event id was seen before."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO inbox (platform, event_id, received_at, payload) "
            "VALUES (?,?,?,?)",
            (platform, event_id, ts(now), encode_payload(payload)),
        )
        return cursor.rowcount == 1

    async def store_inbound_many(
        self, events: Sequence[tuple[str, str, dict[str, Any]]], now: datetime
    ) -> list[bool]:
        # A statement here costs microseconds, not a round trip: one at a time.
        return [
            await self.store_inbound(platform, event_id, payload, now)
            for platform, event_id, payload in events
        ]

    async def pending_inbound(self, limit: int) -> list[tuple[int, dict[str, Any]]]:
        rows = await self._all(
            "SELECT id, payload FROM inbox WHERE handled_at IS NULL ORDER BY id LIMIT ?", (limit,)
        )
        return [(r["id"], json.loads(r["payload"])) for r in rows]

    async def claim_inbound(self, inbox_ids: Sequence[int], now: datetime) -> set[int]:
        """Mark these events handled, inside a write transaction: returns the ids that
        were still unhandled and are now claimed by this transaction."""
        if not inbox_ids:
            return set()
        rows = await self._all(
            f"SELECT id FROM inbox WHERE id IN ({','.join('?' * len(inbox_ids))}) "
            "AND handled_at IS NULL",
            tuple(inbox_ids),
        )
        claimed = [int(r["id"]) for r in rows]
        if claimed:
            await self._run(
                f"UPDATE inbox SET handled_at = ? WHERE id IN ({','.join('?' * len(claimed))})",
                (ts(now), *claimed),
            )
        return set(claimed)

    async def mark_inbound_failed(self, inbox_id: int, error: str) -> None:
        await self._run("UPDATE inbox SET error = ? WHERE id = ?", (error, inbox_id))

    async def purge_inbox(self, before: datetime) -> int:
        return await self._run(
            "DELETE FROM inbox WHERE handled_at IS NOT NULL AND handled_at < ?", (ts(before),)
        )

    # -- outbox ---------------------------------------------------------------------

    async def enqueue(self, platform: str, message: NewMessage, now: datetime) -> OutboxId:
        return OutboxId(await self._run(_ENQUEUE, message_row(platform, message, ts(now))))

    async def enqueue_many(self, rows: Iterable[tuple[str, NewMessage]], now: datetime) -> None:
        at = ts(now)
        made = iter(rows)
        while chunk := list(itertools.islice(made, ENQUEUE_CHUNK)):
            await self._many(_ENQUEUE, [message_row(platform, m, at) for platform, m in chunk])

    async def enqueue_each(
        self, rows: Sequence[tuple[str, NewMessage]], now: datetime
    ) -> list[OutboxId]:
        return [await self.enqueue(platform, m, now) for platform, m in rows]

    async def outbox_row(self, outbox_id: int) -> OutboxRow | None:
        row = await self._one(_OUTBOX_SELECT + "WHERE o.id = ?", (outbox_id,))
        return None if row is None else _outbox(row)

    async def outbox_for(self, purpose: str, ref: int) -> list[OutboxRow]:
        rows = await self._all(
            _ORIGINALS_SELECT + "WHERE o.purpose = ? AND o.ref = ? AND o.edit_of IS NULL "
            "ORDER BY o.id",
            (purpose, ref),
        )
        return [_outbox(r) for r in rows]

    async def outbox_for_each(self, purposes: Sequence[str], ref: int) -> list[OutboxRow]:
        """`outbox_for` of each purpose in turn, in one query."""
        if not purposes:
            return []
        rows = await self._all(
            _ORIGINALS_SELECT
            + f"WHERE o.ref = ? AND o.purpose IN ({','.join('?' * len(purposes))}) "
            "AND o.edit_of IS NULL ORDER BY o.id",
            (ref, *purposes),
        )
        found = [_outbox(r) for r in rows]
        if len(found) < 2:
            return found
        return sorted(found, key=lambda row: purposes.index(row.purpose))

    async def outbox_for_refs(
        self, purposes: Sequence[str], refs: Sequence[int]
    ) -> dict[int, list[OutboxRow]]:
        if not purposes or not refs:
            return {}
        places, params = in_list(refs)
        rows = await self._all(
            _ORIGINALS_SELECT + f"WHERE o.ref IN ({places}) "
            f"AND o.purpose IN ({marks(len(purposes))}) AND o.edit_of IS NULL ORDER BY o.id",
            (*params, *purposes),
        )
        found: dict[int, list[OutboxRow]] = {}
        for r in rows:
            found.setdefault(r["ref"], []).append(_outbox(r))
        return {
            ref: each
            if len(each) < 2
            else sorted(each, key=lambda row: purposes.index(row.purpose))
            for ref, each in found.items()
        }

    async def outbox_by_message(self, platform: str, message_id: str) -> OutboxRow | None:
        row = await self._one(
            _OUTBOX_SELECT + "WHERE o.platform = ? AND o.platform_message_id = ? "
            "ORDER BY o.id LIMIT 1",
            (platform, message_id),
        )
        return None if row is None else _outbox(row)

    async def take_for_sending(
        self, outbox_ids: Sequence[OutboxId], now: datetime, lease_until: datetime
    ) -> set[OutboxId]:
        if not outbox_ids:
            return set()
        rows = await self._all(
            "UPDATE outbox SET not_before = ?, leased_until = ? "
            f"WHERE id IN ({','.join('?' * len(outbox_ids))}) "
            "AND state = 'pending' AND not_before <= ? RETURNING id",
            (ts(lease_until), ts(lease_until), *outbox_ids, ts(now)),
        )
        return {OutboxId(r[0]) for r in rows}

    async def sendable(
        self, platform: str, now: datetime, limit: int, skip: Collection[str] = ()
    ) -> list[OutboxRow]:
        """Pending rows in the order they should go: priority, then age. An edit waits
        until the message it edits has been sent (or has failed). Rows for the chats in
        `skip` (a send to them in flight, or their rate limit not yet open) are left
        out: however many one chat has queued, they do not fill the page that the
        other chats' messages are read from."""
        if not skip:
            rows = await self._all(
                _SENDABLE + "ORDER BY o.priority, o.id LIMIT ?", (platform, ts(now), limit)
            )
        else:
            rows = await self._all(
                _SENDABLE + "AND o.chat NOT IN (SELECT value FROM json_each(?)) "
                "ORDER BY o.priority, o.id LIMIT ?",
                (platform, ts(now), json.dumps(list(skip)), limit),
            )
        return [_outbox(r) for r in rows]

    async def next_not_before(self, platform: str, after: datetime) -> datetime | None:
        row = await self._one(
            "SELECT min(not_before) AS t FROM outbox WHERE platform = ? AND state = 'pending' "
            "AND not_before > ?",
            (platform, ts(after)),
        )
        return None if row is None or row["t"] is None else from_ts(row["t"])

    async def mark_sent(self, outbox_id: OutboxId, message_id: str, now: datetime) -> None:
        await self._run(
            "UPDATE outbox SET state = 'sent', sent_at = ?, platform_message_id = ?, "
            "attempts = attempts + 1, last_error = NULL WHERE id = ?",
            (ts(now), message_id, outbox_id),
        )
        await self._run(
            "INSERT INTO delivery_attempts (outbox_id, at, ok) VALUES (?,?,1)", (outbox_id, ts(now))
        )

    async def mark_sent_many(self, sent: Sequence[tuple[OutboxId, str, float]]) -> None:
        """`mark_sent` for many: (outbox id, platform message id, when as a timestamp)."""
        await self._many(
            "UPDATE outbox SET state = 'sent', sent_at = ?, platform_message_id = ?, "
            "attempts = attempts + 1, last_error = NULL WHERE id = ?",
            [(at, message_id, outbox_id) for outbox_id, message_id, at in sent],
        )
        await self._many(
            "INSERT INTO delivery_attempts (outbox_id, at, ok) VALUES (?,?,1)",
            [(outbox_id, at) for outbox_id, _, at in sent],
        )

    async def mark_retry(
        self, outbox_id: OutboxId, error: str, not_before: datetime, now: datetime
    ) -> None:
        await self._run(
            "UPDATE outbox SET attempts = attempts + 1, not_before = ?, last_error = ?, "
            "leased_until = NULL WHERE id = ?",
            (ts(not_before), error, outbox_id),
        )
        await self._run(
            "INSERT INTO delivery_attempts (outbox_id, at, ok, error) VALUES (?,?,0,?)",
            (outbox_id, ts(now), error),
        )

    async def mark_failed(self, outbox_id: OutboxId, error: str, now: datetime) -> None:
        await self._run(
            "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ? "
            "WHERE id = ?",
            (error, outbox_id),
        )
        await self._run(
            "INSERT INTO delivery_attempts (outbox_id, at, ok, permanent, error) "
            "VALUES (?,?,0,1,?)",
            (outbox_id, ts(now), error),
        )

    async def cancel_pending(self, outbox_ids: Sequence[OutboxId]) -> int:
        # Not a row this process is sending, nor one an instance took for sending.
        outbox_ids = [i for i in outbox_ids if i not in self.sending]
        if not outbox_ids:
            return 0
        return await self._run(
            f"UPDATE outbox SET state = 'cancelled' WHERE state = 'pending' "
            f"AND leased_until IS NULL AND id IN ({','.join('?' * len(outbox_ids))})",
            tuple(outbox_ids),
        )

    async def delivery_attempts(self, outbox_id: OutboxId) -> list[tuple[bool, str]]:
        rows = await self._all(
            "SELECT ok, error FROM delivery_attempts WHERE outbox_id = ? ORDER BY id", (outbox_id,)
        )
        return [(bool(r["ok"]), r["error"]) for r in rows]

    async def outbox_depth(self) -> dict[tuple[str, int], int]:
        rows = await self._all(
            "SELECT platform, priority, count(*) AS n FROM outbox WHERE state = 'pending' "
            "GROUP BY platform, priority"
        )
        return {(r["platform"], r["priority"]): r["n"] for r in rows}
