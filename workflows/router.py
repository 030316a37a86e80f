"""Where inbound events, due timers and deliveries enter the care logic.

Dispatch only: each workflow registers its commands, button actions and timer kinds
(`workflows.routes`); this module finds who wrote, parses the command, resolves a
button to its signed action, and hands over.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime, timedelta

from core.commands import Priority
from core.enums import Role
from core.events import ButtonPressed, ChatLeft, InboundEvent, MessageReceived
from core.outbox import OutboxRow
from core.records import AlertReason, Person, Timer
from workflows import (
    answers,
    away,
    calls,
    checkin,
    closes,
    enrollment,
    escalation,
    needs,
    outage,
    privacy,
    rounds,
    said,
    signals,
    summary,
    visits,
    web_login,
)
from workflows.context import Work
from workflows.messaging import answer_press, to_chat, to_person
from workflows.routes import Routes, refuse, reply, reply_text
from workflows.timefmt import hm

log = logging.getLogger(__name__)

STRANGER_REPLY_EVERY = timedelta(hours=1)

ROUTES = Routes().include(
    checkin.routes,
    escalation.routes,
    needs.routes,
    said.routes,
    rounds.routes,
    web_login.routes,
    calls.routes,
    away.routes,
    visits.routes,
    signals.routes,
    outage.routes,
    summary.routes,
    privacy.routes,
)


def parse_command(text: str) -> tuple[str, list[str]] | None:
    """`/ack 12`, `!ack 12`, `/start@carecheck_bot CODE` → ("ack", ["12"])."""
    if not text or text[0] not in "/!":
        return None
    head, *args = text[1:].split()
    if not head:
        return None
    return head.split("@", 1)[0].lower(), args


async def handle_events(work: Work, events: Sequence[InboundEvent]) -> None:
    """The events of an inbox page, in order, as `handle_event` one by one would handle
    them; runs of plain check-in answers among them are handled together
    (`workflows.answers`)."""
    run: list[answers.Plain] = []
    for event in events:
        item = answers.plain(work, event)
        if item is not None:
            run.append(item)
            continue
        await _handle_run(work, run)
        run = []
        await handle_event(work, event)
    await _handle_run(work, run)


async def _handle_run(work: Work, run: list[answers.Plain]) -> None:
    if len(run) == 1:
        await handle_event(work, run[0].event)  # fewer statements alone than as a set
    elif run:
        await answers.handle(work, run, handle_event)


async def handle_event(work: Work, event: InboundEvent) -> None:
    match event:
        case MessageReceived():
            await _on_message(work, event)
        case ButtonPressed():
            await _on_button(work, event)
        case ChatLeft():
            await _on_chat_left(work, event)
        case _:
            handler = ROUTES.events.get(type(event))
            if handler is not None:
                await handler(work, event)


# -- messages -------------------------------------------------------------------------


async def _on_message(work: Work, event: MessageReceived) -> None:
    sender = event.sender
    command = parse_command(event.text.strip()) if event.text else None
    if command and command[0] in ("start", "link") and command[1]:
        await enrollment.redeem(work, command[1][0], sender, event.chat, event.is_group)
        return
    identity = await work.tx.identity(sender.platform, sender.address)
    if identity is None:
        if not event.is_group:
            await _answer_stranger(work, event)
        return
    person = await work.tx.person(identity.person_id)
    if person is None:
        return
    # Their own chat, even if a relative has joined it (then it looks like a group).
    own_chat = event.chat == identity.chat
    if not event.is_group and not own_chat and not await work.tx.is_team_chat(event.chat):
        # The person wrote from a new private chat (a Matrix DM the bot was invited to).
        await work.tx.bind_identity(
            person.id, sender.platform, sender.address, event.chat, work.now
        )
        own_chat = True
    if command is not None:
        await _on_command(work, person, event, *command)
        return
    if person.role != Role.RESIDENT:
        await _on_responder_text(work, person, event)
        return
    if event.is_group and not own_chat:
        return
    await said.on_resident_message(work, person, event)


async def _on_command(
    work: Work, person: Person, event: MessageReceived, name: str, args: list[str]
) -> None:
    resident = person.role == Role.RESIDENT
    if name == "help":
        await reply(work, event, person, "help_resident" if resident else "help_responder")
        return
    command = ROUTES.commands.get(name)
    if command is not None and command.audience.admits(person):
        await command.handler(work, person, event, args)
        return
    if resident:
        # Still a sign of life, and the resident learns what they can send.
        await checkin.record_answer(
            work, person, help_wanted=False, said=event.text, via="text", quiet=True
        )
    help_key = "help_resident" if resident else "help_responder"
    await reply_text(
        work,
        event,
        person,
        work.texts.render(person.language, "unknown_command")
        + "\n"
        + work.texts.render(person.language, help_key),
    )


async def _answer_stranger(work: Work, event: MessageReceived) -> None:
    """Someone not enrolled: tell them how to join — once an hour per chat, at the
    lowest priority, so a flood from one stranger cannot hold up anyone's alert."""
    key = f"stranger:{event.chat}"
    last = await work.tx.kv_get(key)
    if last is not None and work.now - datetime.fromisoformat(last) < STRANGER_REPLY_EVERY:
        return
    await work.tx.kv_set(key, work.now.isoformat())
    await to_chat(
        work,
        event.chat,
        work.texts.render("zh", "not_enrolled") + "\n" + work.texts.render("en", "not_enrolled"),
        priority=Priority.BULK,
    )


async def _on_responder_text(work: Work, person: Person, event: MessageReceived) -> None:
    """A reply to an alert's message is a note on that alert; other words get a hint."""
    text = event.text.strip()
    if event.reply_to and text:
        alert = await escalation.alert_of_message(
            work, event.sender.platform, event.chat, event.reply_to
        )
        resident = None if alert is None else await work.tx.person(alert.person_id)
        if alert is not None and resident is not None:
            if not escalation.may_act(alert, resident, person):
                await reply(work, event, person, "not_allowed")
                return
            await reply_text(
                work, event, person, await escalation.add_note(work, alert, person, text)
            )
            return
    if event.is_group:
        return  # team groups talk among themselves
    await reply(work, event, person, "responder_hint")


# -- buttons --------------------------------------------------------------------------


async def _token_for(work: Work, event: ButtonPressed) -> tuple[str, OutboxRow | None]:
    if event.token:
        return event.token, None
    if not event.platform_message_id:
        return "", None
    row = await work.tx.outbox_by_message(event.sender.platform, event.platform_message_id)
    if row is None:
        return "", None
    # Clients differ in whether they send the emoji variation selector (U+FE0F).
    key = event.reaction_key.replace("\ufe0f", "")
    for line in row.buttons():
        for button in line:
            if button.emoji and button.emoji.replace("\ufe0f", "") == key:
                return button.token, row
    return "", row


async def _on_button(work: Work, event: ButtonPressed) -> None:
    identity = await work.tx.identity(event.sender.platform, event.sender.address)
    person = None if identity is None else await work.tx.person(identity.person_id)
    token, row = await _token_for(work, event)
    if person is None:
        await answer_press(
            work, event.chat, event.callback_id, work.texts.render("zh", "not_allowed")
        )
        return
    lang = person.language
    if not token:
        # Any reaction from a resident on their own prompt is a sign of life.
        if (
            row is not None
            and person.role == Role.RESIDENT
            and row.person_id == person.id
            and row.purpose in (checkin.PURPOSE_PROMPT, checkin.PURPOSE_REMINDER)
        ):
            await checkin.record_answer(
                work, person, help_wanted=False, said=event.reaction_key, via="reaction"
            )
            text = work.texts.render(lang, "recorded_ok", time=hm(work.now, person.timezone))
        else:
            text = work.texts.render(lang, "stale_button")
        # Telegram shows a spinner on the button until the press is answered.
        await answer_press(work, event.chat, event.callback_id, text)
        return
    action = work.signer.verify(token)
    handler = None if action is None else ROUTES.buttons.get(action.kind)
    if action is None or handler is None:
        await work.tx.audit(work.now, "button.forged", f"person:{person.id}", person.id)
        await refuse(work, event, person)
        return
    await handler(work, person, event, action)


# -- people who left ------------------------------------------------------------------


async def _on_chat_left(work: Work, event: ChatLeft) -> None:
    identity = await work.tx.identity(event.sender.platform, event.sender.address)
    person = None if identity is None else await work.tx.person(identity.person_id)
    if person is None:
        return
    await work.tx.audit(work.now, "person.left_chat", f"person:{person.id}", person.id, event.chat)
    if not person.active:
        return
    if person.role == Role.RESIDENT:
        await escalation.open_alert(
            work, person, AlertReason.UNREACHABLE, checkin_id=None, said=event.chat
        )
        return
    # A responder who left cannot be paged: the operators hear of it at once.
    for operator in await work.tx.responders(person.grid, Role.OPERATOR.value):
        if operator.id != person.id:
            await to_person(
                work,
                operator,
                work.texts.render(
                    operator.language,
                    "identity_moved_notice",
                    name=person.name,
                    why=work.texts.render(operator.language, "why_left_chat"),
                ),
                priority=Priority.ALERT,
            )


# -- timers and deliveries ------------------------------------------------------------


async def fire_timers(
    work: Work,
    timers: Sequence[Timer],
    fire_one: Callable[[Timer], Awaitable[bool]],
    *,
    alone: Collection[int] = (),
) -> int:
    """Fire these due timers in order, as `fire_one` (claim, then `fire_timer`) one by
    one would; runs of `close` timers among them are fired together
    (`workflows.closes`), except those in `alone`. Returns how many were fired."""
    fired = 0
    run: list[Timer] = []

    async def fire_run() -> int:
        if len(run) == 1:
            return int(await fire_one(run[0]))  # fewer statements alone than as a set
        return await closes.handle(work, run, fire_timer) if run else 0

    for timer in timers:
        if closes.together(timer) and timer.id not in alone:
            run.append(timer)
            continue
        fired += await fire_run()
        run = []
        fired += int(await fire_one(timer))
    return fired + await fire_run()


async def fire_timer(work: Work, timer: Timer) -> None:
    handler = ROUTES.timers.get(timer.kind)
    if handler is None:
        log.error("unknown timer kind %r dropped", timer.kind)
        return
    await handler(work, timer)


def wants_delivery(row: OutboxRow) -> bool:
    """Whether a delivered message matters to a workflow (checked outside any
    transaction, for every message sent)."""
    return row.purpose == escalation.PURPOSE_ALERT


async def on_delivered(work: Work, row: OutboxRow) -> None:
    if row.purpose == escalation.PURPOSE_ALERT:
        await escalation.on_copy_delivered(work, row)


async def on_delivery_failed(work: Work, row: OutboxRow, error: str) -> None:
    await work.tx.audit(work.now, "delivery.failed", f"outbox:{row.id}", row.person_id, error)
    if row.purpose in (checkin.PURPOSE_PROMPT, checkin.PURPOSE_REMINDER):
        await outage.on_prompt_undeliverable(work, row, error)
    elif row.purpose == escalation.PURPOSE_ALERT:
        await escalation.on_copy_undeliverable(work, row, error)
