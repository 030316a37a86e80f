"""The inbox (inbound events, deduplicated) and the outbox (outbound messages)."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from core.commands import Priority
from core.ids import ChatRef, OutboxId, PersonId
from store.outbox_rows import ENQUEUE_COLUMNS, message_row
from store.postgres.base import COPY_FROM, Repo, Row, no_nul
from store.postgres.records import NewMessage, OutboxRow, from_ts, opt_ts, ts

# json.dumps(..., ensure_ascii=False) builds a new encoder on every call.
_encode = json.JSONEncoder(ensure_ascii=False).encode

_OUTBOX_COLUMNS = (
    "o.id, o.platform, o.chat, o.person_id, o.priority, o.purpose, o.ref, o.payload, "
    "o.edit_of, o.state, o.attempts, o.not_before, o.platform_message_id, "
    "t.platform_message_id AS target_message_id, t.state AS target_state "
)
_OUTBOX_SELECT = f"SELECT {_OUTBOX_COLUMNS} FROM outbox o LEFT JOIN outbox t ON t.id = o.edit_of "

# For rows that are not edits (edit_of IS NULL) there is nothing to join.
_ORIGINALS_SELECT = (
    "SELECT o.id, o.platform, o.chat, o.person_id, o.priority, o.purpose, o.ref, o.payload, "
    "o.edit_of, o.state, o.attempts, o.not_before, o.platform_message_id, "
    "NULL AS target_message_id, NULL AS target_state FROM outbox o "
)

# $1 platform, $2 now, $3 chats to leave out, $4 limit. Read along the outbox_pending
# index in (priority, id) order. An edit waits until the message it edits has left
# 'pending'.
_SENDABLE_WHERE = (
    "WHERE o.platform = $1 AND o.state = 'pending' AND o.not_before <= $2 "
    "AND (o.edit_of IS NULL OR t.state <> 'pending') AND o.chat <> ALL($3::text[]) "
)
# A plain read, without row locks: in PostgreSQL a row lock is a write (to every row
# read, on each pass of the worker). Taking rows is claim_sendable's job.
_SENDABLE = _OUTBOX_SELECT + _SENDABLE_WHERE + "ORDER BY o.priority, o.id LIMIT $4"

# The same rows, taken: their not_before moves to $5, the end of a lease, so no other
# instance reads them as sendable until then; rows another instance is taking at this
# moment are passed over, not waited for. The outer SELECT sees the rows as they
# were before the UPDATE (one snapshot for the whole statement), so the row handed back
# keeps its real not_before.
_CLAIM = (
    "WITH picked AS (SELECT o.id FROM outbox o LEFT JOIN outbox t ON t.id = o.edit_of "
    + _SENDABLE_WHERE
    + "ORDER BY o.priority, o.id LIMIT $4 FOR UPDATE OF o SKIP LOCKED), "
    "leased AS (UPDATE outbox SET not_before = $5, leased_until = $5 FROM picked "
    "WHERE outbox.id = picked.id) "
    + _OUTBOX_SELECT
    + "WHERE o.id IN (SELECT id FROM picked) ORDER BY o.priority, o.id"
)


def _outbox(row: Row) -> OutboxRow:
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


_ENQUEUE = (
    f"INSERT INTO outbox ({', '.join(ENQUEUE_COLUMNS)}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
)
# Many messages in one statement, inserted (and so numbered) in the order given.
_ENQUEUE_UNNEST = (
    f"INSERT INTO outbox ({', '.join(ENQUEUE_COLUMNS)}) "
    "SELECT pl, ch, pe, pr, pu, re, pa, ed, $9, $9 FROM unnest($1::text[], "
    "$2::text[], $3::bigint[], $4::int[], $5::text[], $6::bigint[], $7::text[], "
    "$8::bigint[]) WITH ORDINALITY AS m(pl, ch, pe, pr, pu, re, pa, ed, i) ORDER BY i"
)


def _unnest_params(rows: Sequence[tuple[str, NewMessage]], at: float) -> tuple[Any, ...]:
    return (
        [platform for platform, _ in rows],
        [m.chat for _, m in rows],
        [m.person_id for _, m in rows],
        [int(m.priority) for _, m in rows],
        [m.purpose for _, m in rows],
        [m.ref for _, m in rows],
        [m.payload() for _, m in rows],
        [m.edit_of for _, m in rows],
        at,
    )


class DeliveryRepo(Repo):
    # -- inbox ----------------------------------------------------------------------

    async def store_inbound(
        self, platform: str, event_id: str, payload: dict[str, Any], now: datetime
    ) -> bool:
        """Insert an inbound event; False when this platform event id was seen before."""
        inserted = await self._run(
            "INSERT INTO inbox (platform, event_id, received_at, payload) "
            "VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING",
            (platform, event_id, ts(now), _encode(payload)),
        )
        return inserted == 1

    async def store_inbound_many(
        self, events: Sequence[tuple[str, str, dict[str, Any]]], now: datetime
    ) -> list[bool]:
        if len(events) == 1:
            platform, event_id, payload = events[0]
            return [await self.store_inbound(platform, event_id, payload, now)]
        # One statement for the page (a round trip per event was most of its cost).
        # WITH ORDINALITY keeps the order: of two events with one id, the first is kept.
        rows = await self._all(
            "INSERT INTO inbox (platform, event_id, received_at, payload) "
            "SELECT p, e, $3, d FROM unnest($1::text[], $2::text[], $4::text[]) "
            "WITH ORDINALITY AS t(p, e, d, n) ORDER BY n "
            "ON CONFLICT DO NOTHING RETURNING platform, event_id",
            (
                [platform for platform, _, _ in events],
                [event_id for _, event_id, _ in events],
                ts(now),
                [_encode(payload) for _, _, payload in events],
            ),
        )
        stored = {(r["platform"], r["event_id"]) for r in rows}
        news: list[bool] = []
        for platform, event_id, _ in events:
            news.append((platform, event_id) in stored)
            stored.discard((platform, event_id))
        return news

    async def pending_inbound(self, limit: int) -> list[tuple[int, dict[str, Any]]]:
        rows = await self._all(
            "SELECT id, payload FROM inbox WHERE handled_at IS NULL ORDER BY id LIMIT $1",
            (limit,),
        )
        return [(r["id"], json.loads(r["payload"])) for r in rows]

    async def claim_inbound(self, inbox_ids: Sequence[int], now: datetime) -> set[int]:
        """Mark these events handled, inside a write transaction: returns the ids that
        were still unhandled and are now claimed by this transaction. Events another
        instance is claiming at this moment are left to it, not waited for."""
        if not inbox_ids:
            return set()
        rows = await self._all(
            "UPDATE inbox SET handled_at = $1 WHERE id IN (SELECT id FROM inbox "
            "WHERE id = ANY($2::bigint[]) AND handled_at IS NULL FOR UPDATE SKIP LOCKED) "
            "RETURNING id",
            (ts(now), list(inbox_ids)),
        )
        return {int(r["id"]) for r in rows}

    async def mark_inbound_failed(self, inbox_id: int, error: str) -> None:
        await self._run("UPDATE inbox SET error = $1 WHERE id = $2", (no_nul(error), inbox_id))

    async def purge_inbox(self, before: datetime) -> int:
        return await self._run(
            "DELETE FROM inbox WHERE handled_at IS NOT NULL AND handled_at < $1", (ts(before),)
        )

    # -- outbox ---------------------------------------------------------------------

    async def enqueue(self, platform: str, message: NewMessage, now: datetime) -> OutboxId:
        return OutboxId(
            await self._insert(_ENQUEUE + " RETURNING id", message_row(platform, message, ts(now)))
        )

    async def enqueue_many(self, rows: Iterable[tuple[str, NewMessage]], now: datetime) -> None:
        at = ts(now)
        if isinstance(rows, Sequence) and len(rows) < COPY_FROM:
            # A few: one statement, without COPY's extra round trips.
            if rows:
                await self._run(_ENQUEUE_UNNEST, _unnest_params(rows, at))
            return
        # Many, or made as they are read: one COPY, streamed to the server as the rows
        # are made, so that it writes some while the next are rendered.
        await self._copy("outbox", ENQUEUE_COLUMNS, (message_row(p, m, at) for p, m in rows))

    async def enqueue_each(
        self, rows: Sequence[tuple[str, NewMessage]], now: datetime
    ) -> list[OutboxId]:
        if not rows:
            return []
        found = await self._all(_ENQUEUE_UNNEST + " RETURNING id", _unnest_params(rows, ts(now)))
        # Ids are drawn in the order the rows are inserted (ORDER BY i): ascending.
        return sorted(OutboxId(r["id"]) for r in found)

    async def outbox_row(self, outbox_id: int) -> OutboxRow | None:
        row = await self._one(_OUTBOX_SELECT + "WHERE o.id = $1", (outbox_id,))
        return None if row is None else _outbox(row)

    async def outbox_for(self, purpose: str, ref: int) -> list[OutboxRow]:
        rows = await self._all(
            _ORIGINALS_SELECT + "WHERE o.purpose = $1 AND o.ref = $2 AND o.edit_of IS NULL "
            "ORDER BY o.id",
            (purpose, ref),
        )
        return [_outbox(r) for r in rows]

    async def outbox_for_each(self, purposes: Sequence[str], ref: int) -> list[OutboxRow]:
        """`outbox_for` of each purpose in turn, in one query."""
        if not purposes:
            return []
        rows = await self._all(
            _ORIGINALS_SELECT + "WHERE o.ref = $1 AND o.purpose = ANY($2::text[]) "
            "AND o.edit_of IS NULL ORDER BY o.id",
            (ref, list(purposes)),
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
        rows = await self._all(
            _ORIGINALS_SELECT + "WHERE o.ref = ANY($1::bigint[]) AND o.purpose = ANY($2::text[]) "
            "AND o.edit_of IS NULL ORDER BY o.id",
            (list(refs), list(purposes)),
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
            _OUTBOX_SELECT + "WHERE o.platform = $1 AND o.platform_message_id = $2 "
            "ORDER BY o.id LIMIT 1",
            (platform, message_id),
        )
        return None if row is None else _outbox(row)

    async def sendable(
        self, platform: str, now: datetime, limit: int, skip: Collection[str] = ()
    ) -> list[OutboxRow]:
        """Pending rows in the order they should go: priority, then age. An edit waits
        until the message it edits has been sent (or has failed). Rows for the chats in
        `skip` (a send to them in flight, or their rate limit not yet open) are left
        out: however many one chat has queued, they do not fill the page that the
        other chats' messages are read from."""
        rows = await self._all(_SENDABLE, (platform, ts(now), list(skip), limit))
        return [_outbox(r) for r in rows]

    async def take_for_sending(
        self, outbox_ids: Sequence[OutboxId], now: datetime, lease_until: datetime
    ) -> set[OutboxId]:
        if not outbox_ids:
            return set()
        rows = await self._all(
            "UPDATE outbox SET not_before = $1, leased_until = $1 WHERE id IN ("
            " SELECT id FROM outbox WHERE id = ANY($2::bigint[]) AND state = 'pending'"
            " AND not_before <= $3 FOR UPDATE SKIP LOCKED) RETURNING id",
            (ts(lease_until), list(outbox_ids), ts(now)),
        )
        return {OutboxId(r["id"]) for r in rows}

    async def claim_sendable(
        self,
        platform: str,
        now: datetime,
        limit: int,
        lease_until: datetime,
        skip: Collection[str] = (),
    ) -> list[OutboxRow]:
        """`sendable`, taken for sending by this instance: the rows are not sendable to
        anyone else until `lease_until` (their not_before moves there). Sending marks
        them sent, retried or failed as usual; if this instance dies first, the lease
        runs out and they are sent again — at least once, never lost. Two instances
        claiming at the same moment never get the same row."""
        rows = await self._all(_CLAIM, (platform, ts(now), list(skip), limit, ts(lease_until)))
        return [_outbox(r) for r in rows]

    async def next_not_before(self, platform: str, after: datetime) -> datetime | None:
        at = await self._value(
            "SELECT min(not_before) FROM outbox WHERE platform = $1 AND state = 'pending' "
            "AND not_before > $2",
            (platform, ts(after)),
        )
        return opt_ts(at)

    async def mark_sent(self, outbox_id: OutboxId, message_id: str, now: datetime) -> None:
        await self.mark_sent_many([(outbox_id, message_id, ts(now))])

    async def mark_sent_many(self, sent: Sequence[tuple[OutboxId, str, float]]) -> None:
        """`mark_sent` for many: (outbox id, platform message id, when as a timestamp)."""
        if not sent:
            return
        # One statement for the batch: the rows marked sent, and an attempt for each.
        await self._run(
            "WITH s AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::float8[]) "
            " WITH ORDINALITY AS t(id, mid, at, n)), "
            "marked AS (UPDATE outbox o SET state = 'sent', sent_at = s.at, "
            " platform_message_id = s.mid, attempts = o.attempts + 1, last_error = NULL "
            " FROM s WHERE o.id = s.id) "
            "INSERT INTO delivery_attempts (outbox_id, at, ok) "
            "SELECT id, at, 1 FROM s ORDER BY n",
            (
                [outbox_id for outbox_id, _, _ in sent],
                [message_id for _, message_id, _ in sent],
                [at for _, _, at in sent],
            ),
        )

    async def mark_retry(
        self, outbox_id: OutboxId, error: str, not_before: datetime, now: datetime
    ) -> None:
        error = no_nul(error)
        await self._run(
            "UPDATE outbox SET attempts = attempts + 1, not_before = $1, last_error = $2, "
            "leased_until = NULL WHERE id = $3",
            (ts(not_before), error, outbox_id),
        )
        await self._run(
            "INSERT INTO delivery_attempts (outbox_id, at, ok, error) VALUES ($1, $2, 0, $3)",
            (outbox_id, ts(now), error),
        )

    async def mark_failed(self, outbox_id: OutboxId, error: str, now: datetime) -> None:
        error = no_nul(error)
        await self._run(
            "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = $1 "
            "WHERE id = $2",
            (error, outbox_id),
        )
        await self._run(
            "INSERT INTO delivery_attempts (outbox_id, at, ok, permanent, error) "
            "VALUES ($1, $2, 0, 1, $3)",
            (outbox_id, ts(now), error),
        )

    async def cancel_pending(self, outbox_ids: Sequence[OutboxId]) -> int:
        # Not a row this process is sending, nor one an instance took for sending.
        outbox_ids = [i for i in outbox_ids if i not in self.sending]
        if not outbox_ids:
            return 0
        return await self._run(
            "UPDATE outbox SET state = 'cancelled' WHERE state = 'pending' "
            "AND leased_until IS NULL AND id = ANY($1::bigint[])",
            (list(outbox_ids),),
        )

    async def delivery_attempts(self, outbox_id: OutboxId) -> list[tuple[bool, str]]:
        rows = await self._all(
            "SELECT ok, error FROM delivery_attempts WHERE outbox_id = $1 ORDER BY id",
            (outbox_id,),
        )
        return [(bool(r["ok"]), r["error"]) for r in rows]

    async def outbox_depth(self) -> dict[tuple[str, int], int]:
        rows = await self._all(
            "SELECT platform, priority, count(*) AS n FROM outbox WHERE state = 'pending' "
            "GROUP BY platform, priority"
        )
        return {(r["platform"], r["priority"]): int(r["n"]) for r in rows}
