"""Outbound-only channels, as the composition root sees them.

Grid channels (`grids.G.channel`): a group that hears of each alert and need in its
grid as it opens, is taken on and is closed — a WeCom robot, a webhook, a Telegram group —
and of the grid's day in numbers when the day's summary goes to the leaders.

The composition root does this, not a workflow: the workflows already write each of
those moments to the audit log, inside the transaction that makes it happen. The
store they are handed here notes those audit entries and, in the same transaction,
queues a copy of the alert's or need's current text as a group may see it (first
name, building and what happened or is needed: workflows/privacy.py `for_group`),
without buttons (acting happens in the chats that have them, or on the console page
the channel links to), for the grid's channel. A copy is therefore never lost nor sent
for something rolled back.

A robot or webhook that refuses a post for good is told to the operators in chat
(`tell_operators`): the group it was meant for hears nothing until someone acts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from core.commands import Priority
from core.config import WorkflowConfig
from core.enums import Role
from core.ids import split_chat_ref
from core.outbox import NewMessage, OutboxRow
from core.ports import Tx
from workflows import escalation, needs, summary
from workflows.context import Work
from workflows.messaging import to_person
from workflows.texts import ui

# Audit kinds announced to a grid's channel, by prefix, and the event each becomes.
ANNOUNCED = (
    ("alert.opened", "alert.opened"),
    ("alert.acknowledged", "alert.acknowledged"),
    ("alert.resolved", "alert.resolved"),
    ("alert.stand_down", "alert.resolved"),
    ("need.opened", "need.opened"),
    ("need.claimed", "need.claimed"),
    ("need.done", "need.done"),
    ("need.cancelled", "need.cancelled"),
)
LANGUAGE = "zh"
# The day's summary (workflows/summary.py audits it when sent) and its post's event.
SUMMARY_SENT = "summary.sent"
SUMMARY_EVENT = "summary.daily"


def wants_channels(config: WorkflowConfig) -> bool:
    return any(grid.channel for grid in config.grids.values())


class AnnouncingTx:
    """The workflows' transaction, with `audit` also announcing to grid channels."""

    def __init__(self, tx: Tx, config: WorkflowConfig) -> None:
        self._tx = tx
        self._config = config
        self.work: Work | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    async def audit_many(self, entries: Sequence[tuple[Any, str, str, int | None, str]]) -> None:
        # A page of check-in answers writes its audit rows together (workflows/answers):
        # none of those is announced. Should an announced kind come this way, each row
        # goes through `audit`, so it is announced all the same.
        if any(kind.startswith(prefix) for _, kind, *_ in entries for prefix, _ in ANNOUNCED):
            for entry in entries:
                await self.audit(*entry)
            return
        await self._tx.audit_many(entries)

    async def audit(
        self, now: Any, kind: str, subject: str = "", actor: int | None = None, detail: str = ""
    ) -> None:
        await self._tx.audit(now, kind, subject, actor, detail)
        if kind == SUMMARY_SENT and self.work is not None:
            await self._post_summaries(self.work, subject, now)
            return
        event = next((e for prefix, e in ANNOUNCED if kind.startswith(prefix)), None)
        if event is None or self.work is None:
            return
        what, _, number = subject.partition(":")
        if what not in ("alert", "need") or not number.isdigit():
            return
        found = await (self._alert if what == "alert" else self._need)(self.work, int(number))
        if found is None:
            return
        grid, text, facts = found
        channel = self._config.grids.get(grid)
        if channel is None or not channel.channel:
            return
        platform, _ = split_chat_ref(channel.channel)
        self.work.touched_platforms.add(platform)
        message = NewMessage(
            chat=cast(Any, channel.channel),
            text=text,
            priority=Priority.ALERT,
            purpose=event,
            ref=int(number),
            meta={"event": event, what: facts},
        )
        await self._tx.enqueue(platform, message, now)

    async def _post_summaries(self, work: Work, timezone: str, now: Any) -> None:
        """The day's summary went to the leaders of `timezone`: each grid channel gets
        its grid's numbers, once a day, on the workflow file's timezone."""
        if timezone != self._config.timezone:
            return
        for grid, settings in self._config.grids.items():
            if not settings.channel:
                continue
            platform, _ = split_chat_ref(settings.channel)
            work.touched_platforms.add(platform)
            text = await summary.group_text(work, grid, timezone, now, LANGUAGE)
            message = NewMessage(
                chat=cast(Any, settings.channel),
                text=text,
                priority=Priority.ROUTINE,
                purpose=SUMMARY_EVENT,
                meta={"event": SUMMARY_EVENT, "grid": grid},
            )
            await self._tx.enqueue(platform, message, now)

    async def _alert(self, work: Work, alert_id: int) -> tuple[str, str, dict[str, Any]] | None:
        alert = await self._tx.alert(alert_id)
        resident = None if alert is None else await self._tx.person(alert.person_id)
        if alert is None or resident is None:
            return None
        text = await escalation.alert_text(work, alert, resident, LANGUAGE, group=True)
        facts = {
            "id": alert.id,
            "reason": alert.reason.value,
            "urgent": alert.urgent,
            "state": alert.state.value,
            "grid": resident.grid,
            "building": resident.building,
        }
        return resident.grid, text, facts

    async def _need(self, work: Work, need_id: int) -> tuple[str, str, dict[str, Any]] | None:
        need = await self._tx.need(need_id)
        resident = None if need is None else await self._tx.person(need.person_id)
        if need is None or resident is None:
            return None
        text = await needs.need_text(work, need, resident, LANGUAGE, group=True)
        facts = {
            "id": need.id,
            "kind": str(need.kind),
            "state": str(need.state),
            "team": need.team,
            "grid": resident.grid,
            "building": resident.building,
        }
        return resident.grid, text, facts


def announcing(tx: Tx, config: WorkflowConfig) -> tuple[Tx, AnnouncingTx]:
    wrapped = AnnouncingTx(tx, config)
    # Every other method is the store's own (delegated by __getattr__).
    return cast(Tx, wrapped), wrapped


# A channel that refuses for good is told to the operators once per this long.
TELL_OPERATORS_EVERY = timedelta(hours=1)


async def tell_operators(work: Work, row: OutboxRow, error: str) -> None:
    """A robot or webhook refused a post for good (an invalid key, a URL that is gone):
    every operator hears of it in chat, at most once an hour per channel, since the
    group it was meant for hears nothing until someone fixes the workflow file."""
    key = "channel.refused:" + hashlib.sha256(row.chat.encode()).hexdigest()[:16]
    last = await work.tx.kv_get(key)
    if last and work.now - datetime.fromisoformat(last) < TELL_OPERATORS_EVERY:
        return
    await work.tx.kv_set(key, work.now.isoformat())
    for operator in await work.tx.people(Role.OPERATOR.value):
        if not operator.active:
            continue
        # The error names the channel as the adapter shows it (a key never in full).
        text = f"⚠️ {row.platform}: " + ui(operator.language, "delivery_failed", error=error)
        await to_person(work, operator, text, priority=Priority.ALERT)
