"""Outbox rows this process is delivering at this moment.

An edit of a message still pending cancels it and sends the new text instead; but once
the platform has the message in hand, cancelling the row would leave the delivered
message unknown to the edits that follow (and its buttons live). So a row is marked
while its delivery is in flight, and `cancel_pending` leaves marked rows alone: the
edit then follows the message instead of replacing it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from core.ids import OutboxId


class Sending:
    def __init__(self) -> None:
        self.ids: set[OutboxId] = set()

    @contextmanager
    def marked(self, outbox_id: OutboxId) -> Iterator[None]:
        self.ids.add(outbox_id)
        try:
            yield
        finally:
            self.ids.discard(outbox_id)
