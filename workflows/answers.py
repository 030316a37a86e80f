"""A page of plain check-in answers, handled as sets.

Most of what arrives during a round is residents answering their prompt — "好", "ok",
a tapped ✅ — and one at a time each answer is about a dozen statements. Here the
plain answers of an inbox page are read with one statement per kind of row (who wrote,
their open check-ins, questions waiting, open alerts, the prompts to edit, their chats)
and written with one per table (check-ins answered, their timers, edits and thank-yous,
audit rows, messages kept).

What happens is what `router.handle_event` does with each event in turn: every table
gets the same rows in the same order, so with the same ids. Whatever is not a plain
answer — a command, a worry, a call for help, an answer while an alert that silence
opened is still open or while a question waits, a prompt still unsent, anyone not a
resident in their own chat — goes to `router.handle_event` in its place, after the
answers before it are written; a second event from one person starts a new page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from core.commands import Priority
from core.enums import OutboxState, Role
from core.events import ButtonPressed, InboundEvent, MessageReceived
from core.ids import CheckinId, PersonId, split_chat_ref
from core.outbox import NewMessage, OutboxRow
from core.records import OPEN_CHECKIN_STATES, Alert, Checkin, CheckinState, Identity, Person
from workflows import escalation
from workflows.actions import ActionKind, ActionToken
from workflows.checkin import (
    PROMPT_PURPOSES,
    TIMER_CLOSE,
    TIMER_REMIND,
    answered_prompt_text,
    recorded_text,
)
from workflows.context import Work
from workflows.intent import Intent, classify_remembered
from workflows.messaging import chats_to_reach, edit_of_sent

OneByOne = Callable[[Work, InboundEvent], Awaitable[None]]


class AnswerRaced(RuntimeError):
    """A check-in read as open was closed before the page's answers were written (by
    another instance): the page is to be done again one event at a time."""


@dataclass(frozen=True)
class Plain:
    """An event that may be a plain answer, as far as can be told without the database."""

    event: MessageReceived | ButtonPressed
    text: str = ""
    intent: Intent = Intent.OTHER
    action: ActionToken | None = None


def plain(work: Work, event: InboundEvent) -> Plain | None:
    match event:
        case MessageReceived():
            text = event.text.strip()
            # Commands go their own way; "2" typed is the prompt's second choice (help).
            if text[:1] in ("/", "!") or text == "2":
                return None
            intent = classify_remembered(text, work.help_words) if text else Intent.OTHER
            if intent not in (Intent.FINE, Intent.OTHER):
                return None
            return Plain(event, text, intent)
        case ButtonPressed() if event.token:
            action = work.signer.verify(event.token)
            if action is None or action.kind is not ActionKind.CHECKIN_OK:
                return None
            return Plain(event, action=action)
    return None


async def handle(work: Work, run: Sequence[Plain], one_by_one: OneByOne) -> None:
    """Handle these events (consecutive in the inbox) in order."""
    start = 0
    while start < len(run):
        start = await _handle_from(work, run, start, one_by_one)


async def _handle_from(work: Work, run: Sequence[Plain], start: int, one_by_one: OneByOne) -> int:
    """Handle run[start:] up to a second event from someone already in it; returns
    where it stopped."""
    facts = await _Facts.read(work, run[start:])
    page = _Page()
    senders: set[tuple[str, str]] = set()
    people: set[PersonId] = set()
    for index in range(start, len(run)):
        item = run[index]
        sender = (item.event.sender.platform, item.event.sender.address)
        identity = facts.identities.get(sender)
        if sender in senders or (identity is not None and identity.person_id in people):
            # What was read for this page may have changed for this person.
            await page.write(work)
            return index
        senders.add(sender)
        if identity is not None:
            people.add(identity.person_id)
        if not page.take(work, item, identity, facts):
            await page.write(work)
            await one_by_one(work, item.event)
    await page.write(work)
    return len(run)


@dataclass
class _Facts:
    identities: dict[tuple[str, str], Identity]
    people: dict[PersonId, Person]
    open_checkins: dict[PersonId, list[Checkin]]
    concerns: dict[PersonId, int]
    alerts: dict[PersonId, Alert]
    prompts: dict[int, list[OutboxRow]]
    chats: dict[PersonId, list[Identity]]

    @staticmethod
    async def read(work: Work, run: Sequence[Plain]) -> _Facts:
        tx = work.tx
        addresses: dict[str, list[str]] = {}
        for item in run:
            addresses.setdefault(item.event.sender.platform, []).append(item.event.sender.address)
        identities: dict[tuple[str, str], Identity] = {}
        for platform, each in addresses.items():
            found = await tx.identities_at(platform, list(dict.fromkeys(each)))
            identities.update(((platform, a), i) for a, i in found.items())
        people = await tx.people_by_id(
            list(dict.fromkeys(i.person_id for i in identities.values()))
        )
        residents = [p.id for p in people.values() if p.role == Role.RESIDENT]
        open_checkins = await tx.open_checkins_of_each(residents)
        answering = [p for p in residents if p in open_checkins]
        texting = {
            identities[key].person_id
            for item in run
            if isinstance(item.event, MessageReceived)
            and (key := (item.event.sender.platform, item.event.sender.address)) in identities
        }
        writing = [p for p in answering if p in texting]
        return _Facts(
            identities=identities,
            people=people,
            open_checkins=open_checkins,
            concerns=await tx.pending_concerns(writing),
            alerts=await tx.unresolved_alert_of_each(answering),
            prompts=await tx.outbox_for_refs(
                PROMPT_PURPOSES, [c.id for p in answering for c in open_checkins[p]]
            ),
            chats=await tx.identities_of_each(writing),
        )


@dataclass
class _Page:
    """What the plain answers taken so far write, in the order they write it."""

    answers: list[tuple[CheckinId, str]] = field(default_factory=list)
    messages: list[tuple[PersonId, datetime, str, str, str]] = field(default_factory=list)
    outbox: list[tuple[str, NewMessage]] = field(default_factory=list)
    audit: list[tuple[datetime, str, str, int | None, str]] = field(default_factory=list)

    def take(self, work: Work, item: Plain, identity: Identity | None, facts: _Facts) -> bool:
        """Note what this event writes if it is a plain answer (False if not)."""
        person = None if identity is None else facts.people.get(identity.person_id)
        if identity is None or person is None or person.role != Role.RESIDENT:
            return False
        checkins = facts.open_checkins.get(person.id, [])
        if not checkins:
            return False
        event = item.event
        if isinstance(event, MessageReceived):
            # Written from elsewhere (a group, a new chat), or a question waits: as ever.
            if event.chat != identity.chat or person.id in facts.concerns:
                return False
        elif item.action is None or item.action.issued_to != person.id:
            return False
        elif not any(c.id == item.action.ref for c in checkins):
            return False  # a late answer, or someone else's prompt
        alert = facts.alerts.get(person.id)
        if alert is not None and escalation.silence_alert(alert):
            return False  # the answer calls it off
        prompts = [row for c in checkins for row in facts.prompts.get(c.id, [])]
        if any(row.state == OutboxState.PENDING for row in prompts):
            return False  # an unsent prompt may be replaced: messaging.edit decides
        via = event.kind.value if isinstance(event, MessageReceived) else "button"
        if isinstance(event, MessageReceived):
            self.messages.append((person.id, work.now, via, item.text, item.intent))
        text = answered_prompt_text(work, person, help_wanted=False)
        for checkin in checkins:
            self.answers.append((CheckinId(checkin.id), via))
            for row in facts.prompts.get(checkin.id, []):
                if row.state != OutboxState.FAILED:
                    self._send(work, row.platform, edit_of_sent(row, text))
            self.audit.append(
                (
                    work.now,
                    f"checkin.{CheckinState.OK.value}",
                    f"checkin:{checkin.id}",
                    person.id,
                    via,
                )
            )
        if isinstance(event, MessageReceived):
            thanks = work.texts.render(person.language, "thanks")
            for chat in chats_to_reach(work, facts.chats.get(person.id, [])):
                self._send(
                    work,
                    chat.platform,
                    NewMessage(
                        chat=chat.chat, text=thanks, priority=Priority.REPLY, person_id=person.id
                    ),
                )
        elif event.callback_id:  # only Telegram wants the press answered (a toast)
            self._send(
                work,
                split_chat_ref(event.chat)[0],
                NewMessage(
                    chat=event.chat,
                    text=recorded_text(work, person, help_wanted=False),
                    priority=Priority.REPLY,
                    callback_id=event.callback_id,
                ),
            )
        return True

    def _send(self, work: Work, platform: str, message: NewMessage) -> None:
        work.touched_platforms.add(platform)
        self.outbox.append((platform, message))

    async def write(self, work: Work) -> None:
        if not self.answers:
            return
        tx = work.tx
        answered = await tx.answer_checkins(
            self.answers, CheckinState.OK, only_if=OPEN_CHECKIN_STATES, answered_at=work.now
        )
        if len(answered) != len(self.answers):
            raise AnswerRaced(f"{len(self.answers) - len(answered)} check-ins closed meanwhile")
        await tx.add_messages(self.messages)
        await tx.cancel_timers_of([c for c, _ in self.answers], (TIMER_REMIND, TIMER_CLOSE))
        await tx.enqueue_many(self.outbox, work.now)
        await tx.audit_many(self.audit)
        self.answers, self.messages, self.outbox, self.audit = [], [], [], []
