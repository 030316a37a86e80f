"""Where inbound events, due timers and failed deliveries enter the care logic."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from gateway.config import Role
from gateway.domain.commands import Priority
from gateway.domain.events import ButtonPressed, ChatLeft, InboundEvent, MessageReceived
from gateway.domain.records import Alert, AlertReason, AlertState, CheckinState, Person, Timer
from gateway.store.delivery import OutboxRow
from workflows import checkin, enrollment, escalation, needs, said
from workflows.actions import ActionKind
from workflows.context import Work
from workflows.messaging import answer_press, to_chat
from workflows.rounds import (
    end_of_quiet,
    manual_round_key,
    next_round,
    parse_manual_round_key,
    parse_round_key,
    previous_round,
    round_key,
)
from workflows.timefmt import hm

log = logging.getLogger(__name__)

TIMER_ROUND = "round"
TIMER_MANUAL_ROUND = "round_manual"
MERGE_CAUGHT_UP_ROUND = timedelta(hours=6)
STRANGER_REPLY_EVERY = timedelta(hours=1)


def parse_command(text: str) -> tuple[str, list[str]] | None:
    """`/ack 12`, `!ack 12`, `/start@carecheck_bot CODE` → ("ack", ["12"])."""
    if not text or text[0] not in "/!":
        return None
    head, *args = text[1:].split()
    if not head:
        return None
    return head.split("@", 1)[0].lower(), args


async def handle_event(work: Work, event: InboundEvent) -> None:
    match event:
        case MessageReceived():
            await _on_message(work, event)
        case ButtonPressed():
            await _on_button(work, event)
        case ChatLeft():
            await _on_chat_left(work, event)


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
        await _on_command(work, person, event, command[0], command[1])
        return
    if person.role != Role.RESIDENT:
        await _on_responder_text(work, person, event)
        return
    if event.is_group and not own_chat:
        return
    await said.on_resident_message(work, person, event)


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
                await _reply(work, event, person, "not_allowed")
                return
            reply = await escalation.add_note(work, alert, person, text)
            await to_chat(work, event.chat, reply, priority=Priority.REPLY, person=person)
            return
    if event.is_group:
        return  # team groups talk among themselves
    await _reply(work, event, person, "responder_hint")


async def _reply(
    work: Work, event: MessageReceived, person: Person, key: str, **fields: object
) -> None:
    await to_chat(
        work,
        event.chat,
        work.texts.render(person.language, key, **fields),
        priority=Priority.REPLY,
        person=person,
    )


async def _on_command(
    work: Work, person: Person, event: MessageReceived, name: str, args: list[str]
) -> None:
    resident = person.role == Role.RESIDENT
    match name:
        case "help":
            await _reply(work, event, person, "help_resident" if resident else "help_responder")
        case "stop" if resident:
            await checkin.stop(work, person)
            await _reply(work, event, person, "stopped")
        case "start" if resident:
            await work.tx.set_active(person.id, True)
            await work.tx.audit(work.now, "person.restarted", f"person:{person.id}", person.id)
            await _reply(work, event, person, "restarted")
        case "need":
            await needs.record(work, person, args, event.chat)
        case "claim" | "done" | "cancel" if args and args[0].lstrip("#").isdigit():
            action = {"claim": "claimed", "done": "done", "cancel": "cancelled"}[name]
            text = await needs.act(work, int(args[0].lstrip("#")), person, action)
            await to_chat(work, event.chat, text, priority=Priority.REPLY, person=person)
        case "alerts" if not resident:
            await to_chat(
                work,
                event.chat,
                await escalation.list_open(work, person),
                priority=Priority.REPLY,
                person=person,
            )
        case "ack" if not resident:
            alert = await _alert_arg(work, event, person, args, "usage_ack")
            if alert is not None:
                text = await escalation.acknowledge(work, alert, person)
                await to_chat(work, event.chat, text, priority=Priority.REPLY, person=person)
        case "resolve" if not resident:
            if len(args) < 2:
                await _reply(work, event, person, "usage_resolve")
                return
            alert = await _alert_arg(work, event, person, args[:1], "usage_resolve")
            if alert is not None:
                outcome = " ".join(args[1:])
                text = await escalation.resolve(work, alert, person, outcome)
                await to_chat(work, event.chat, text, priority=Priority.REPLY, person=person)
        case _:
            if resident:
                # Still a sign of life, and the resident learns what they can send.
                await checkin.record_answer(
                    work, person, help_wanted=False, said=event.text, via="text", quiet=True
                )
            help_key = "help_resident" if resident else "help_responder"
            await to_chat(
                work,
                event.chat,
                work.texts.render(person.language, "unknown_command")
                + "\n"
                + work.texts.render(person.language, help_key),
                priority=Priority.REPLY,
                person=person,
            )


async def _alert_arg(
    work: Work, event: MessageReceived, person: Person, args: list[str], usage: str
) -> Alert | None:
    if not args or not args[0].lstrip("#").isdigit():
        await _reply(work, event, person, usage)
        return None
    alert_id = int(args[0].lstrip("#"))
    alert = await work.tx.alert(alert_id)
    resident = None if alert is None else await work.tx.person(alert.person_id)
    if alert is None or resident is None:
        await _reply(work, event, person, "unknown_alert", alert=alert_id)
        return None
    if not escalation.may_act(alert, resident, person):
        await _reply(work, event, person, "not_allowed")
        return None
    return alert


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
    if action is None:
        await work.tx.audit(work.now, "button.forged", f"person:{person.id}", person.id)
        await _feedback(work, event, person, work.texts.render(lang, "not_allowed"))
        return
    match action.kind:
        case ActionKind.CHECKIN_OK | ActionKind.CHECKIN_HELP:
            if action.issued_to != person.id:
                await _feedback(work, event, person, work.texts.render(lang, "not_allowed"))
                return
            found = await work.tx.checkin(action.ref)
            live = found is not None and found.state in (
                CheckinState.SENT,
                CheckinState.REMINDED,
                CheckinState.MISSED,
                CheckinState.UNREACHABLE,
            )
            if found is None or not live or found.person_id != person.id:
                await _feedback(work, event, person, work.texts.render(lang, "stale_button"))
                return
            help_wanted = action.kind is ActionKind.CHECKIN_HELP
            await checkin.record_answer(
                work,
                person,
                help_wanted=help_wanted,
                said=work.texts.render(lang, "btn_help" if help_wanted else "btn_ok"),
                via="button",
            )
            await answer_press(
                work,
                event.chat,
                event.callback_id,
                work.texts.render(
                    lang,
                    "recorded_help" if help_wanted else "recorded_ok",
                    time=hm(work.now, person.timezone),
                ),
            )
        case ActionKind.CONCERN_YES | ActionKind.CONCERN_NO:
            if action.issued_to != person.id:
                await _feedback(work, event, person, work.texts.render(lang, "not_allowed"))
                return
            if action.kind is ActionKind.CONCERN_YES:
                done = await said.concern_confirmed(work, person, action.ref)
            else:
                done = await said.concern_dismissed(work, person, action.ref)
            text = work.texts.render(
                lang,
                "recorded_help" if action.kind is ActionKind.CONCERN_YES else "recorded_ok",
                time=hm(work.now, person.timezone),
            )
            await _feedback(
                work, event, person, text if done else work.texts.render(lang, "stale_button")
            )
        case ActionKind.NEED_CLAIM | ActionKind.NEED_DONE:
            action_name = "claimed" if action.kind is ActionKind.NEED_CLAIM else "done"
            await _feedback(
                work, event, person, await needs.act(work, action.ref, person, action_name)
            )
        case ActionKind.ALERT_ACK | ActionKind.ALERT_RESOLVE_MENU | ActionKind.ALERT_OUTCOME:
            alert = await work.tx.alert(action.ref)
            resident = None if alert is None else await work.tx.person(alert.person_id)
            allowed = (
                alert is not None
                and resident is not None
                and escalation.may_act(alert, resident, person)
            )
            if not allowed or alert is None or resident is None:
                await _feedback(work, event, person, work.texts.render(lang, "not_allowed"))
                return
            if action.kind is ActionKind.ALERT_ACK:
                text = await escalation.acknowledge(work, alert, person)
            elif action.kind is ActionKind.ALERT_OUTCOME:
                text = await escalation.resolve(work, alert, person, action.arg)
            elif alert.state is AlertState.RESOLVED:
                text = work.texts.render(lang, "already_resolved", alert=alert.id)
            else:
                await escalation.send_outcome_menu(work, alert, person, resident)
                text = work.texts.render(lang, "choose_outcome", alert=alert.id, name=resident.name)
                await answer_press(work, event.chat, event.callback_id, text)
                return
            await _feedback(work, event, person, text)


async def _feedback(work: Work, event: ButtonPressed, person: Person, text: str) -> None:
    """A toast where the platform has one; otherwise a short message in the chat."""
    if event.callback_id:
        await answer_press(work, event.chat, event.callback_id, text)
    else:
        await to_chat(work, event.chat, text, priority=Priority.REPLY, person=person)


async def _on_chat_left(work: Work, event: ChatLeft) -> None:
    identity = await work.tx.identity(event.sender.platform, event.sender.address)
    person = None if identity is None else await work.tx.person(identity.person_id)
    if person is None:
        return
    await work.tx.audit(work.now, "person.left_chat", f"person:{person.id}", person.id, event.chat)
    if person.role == Role.RESIDENT and person.active:
        await escalation.open_alert(
            work, person, AlertReason.UNREACHABLE, checkin_id=None, said=event.chat
        )


async def fire_timer(work: Work, timer: Timer) -> None:
    match timer.kind:
        case checkin.TIMER_REMIND:
            await checkin.on_reminder_due(work, timer.ref, timer.arg)
        case checkin.TIMER_CLOSE:
            await checkin.on_window_closed(work, timer.ref)
        case escalation.TIMER_STEP:
            await escalation.on_step_due(work, timer.ref)
        case said.TIMER_CONCERN:
            await said.on_concern_due(work, timer.ref)
        case "round":
            await _on_round_due(work, timer)
        case "round_manual":  # TIMER_MANUAL_ROUND
            await _on_manual_round_due(work, timer)
        case _:
            log.error("unknown timer kind %r dropped", timer.kind)


async def _on_round_due(work: Work, timer: Timer) -> None:
    plan_name, timezone = parse_round_key(timer.arg)
    plan = work.config.plans.get(plan_name)
    if plan is None:
        log.warning("plan %r is no longer configured; its rounds stop", plan_name)
        return
    if plan.quiet_hours is not None:
        # A round caught up after a restart must not wake people at night either.
        quiet_end = end_of_quiet(work.now, plan.quiet_hours, timezone)
        if quiet_end > work.now:
            # If the regular round comes soon after the night, that one covers the
            # missed round: one check-in in the morning, not two.
            upcoming = next_round(plan, timezone, work.now)
            merge = upcoming - quiet_end <= MERGE_CAUGHT_UP_ROUND
            await work.tx.add_timer(
                upcoming if merge else quiet_end, TIMER_ROUND, 0, timer.arg, work.now
            )
            await work.tx.audit(
                work.now,
                "round.deferred",
                timer.arg,
                None,
                "merged with the next round" if merge else "until quiet ends",
            )
            work.timers_added = True
            return
    result = await checkin.open_round(
        work, plan_name, timezone, timer.due_at, skip_asked_since=timer.due_at
    )
    await work.tx.audit(work.now, "round.opened", timer.arg, None, str(result.opened))
    log.info("round %s opened: %d check-ins", timer.arg, result.opened)
    # Several rounds missed while the gateway was down collapse into this one.
    await work.tx.add_timer(
        next_round(plan, timezone, work.now), TIMER_ROUND, 0, timer.arg, work.now
    )
    work.timers_added = True


async def ensure_round_timers(work: Work) -> int:
    """Every (plan, timezone) that has residents gets a round timer; returns how many
    were added. Runs at start-up and after people are imported."""
    existing = {t.arg for t in await work.tx.timers_of_kind(TIMER_ROUND)}
    added = 0
    for plan_name, timezone in await work.tx.round_keys():
        key = round_key(plan_name, timezone)
        plan = work.config.plans.get(plan_name)
        if key in existing or plan is None:
            continue
        await work.tx.add_timer(next_round(plan, timezone, work.now), TIMER_ROUND, 0, key, work.now)
        added += 1
    work.timers_added = work.timers_added or added > 0
    return added


async def start_round(
    work: Work, plan_name: str, *, grid: str = "", emergency: bool = False
) -> checkin.RoundResult:
    """A round started by hand (dashboard, `carecheck round start`). Residents already
    asked in this round are skipped; inside quiet hours it waits for their end unless
    it is an emergency round, which says so in the prompt."""
    opened = skipped = 0
    deferred: datetime | None = None
    plan = work.config.plans.get(plan_name)
    if plan is None:
        return checkin.RoundResult()
    for name, timezone in await work.tx.round_keys():
        if name != plan_name:
            continue
        if plan.quiet_hours is not None and not emergency:
            quiet_end = end_of_quiet(work.now, plan.quiet_hours, timezone)
            if quiet_end > work.now:
                key = manual_round_key(plan_name, timezone, grid, emergency=False)
                await work.tx.add_timer(quiet_end, TIMER_MANUAL_ROUND, 0, key, work.now)
                await work.tx.audit(work.now, "round.deferred", key, None, "quiet hours")
                work.timers_added = True
                deferred = quiet_end if deferred is None else min(deferred, quiet_end)
                continue
        result = await checkin.open_round(
            work,
            plan_name,
            timezone,
            work.now,
            grid=grid,
            skip_asked_since=previous_round(plan, timezone, work.now),
            emergency=emergency,
        )
        opened += result.opened
        skipped += result.skipped
    await work.tx.audit(
        work.now,
        "round.started_by_hand",
        plan_name,
        None,
        f"grid={grid or '*'} emergency={emergency} opened={opened} skipped={skipped}",
    )
    return checkin.RoundResult(opened=opened, skipped=skipped, deferred_until=deferred)


async def queue_round(
    work: Work, plan_name: str, *, grid: str = "", emergency: bool = False
) -> list[tuple[str, datetime]]:
    """A round asked for from outside the running gateway (`carecheck round start`):
    a timer per timezone, due now — or at the end of quiet hours unless it is an
    emergency — that the gateway's timer loop fires. Returns (timezone, when)."""
    plan = work.config.plans.get(plan_name)
    if plan is None:
        raise ValueError(f"no plan {plan_name!r} in the workflow file")
    queued = []
    for name, timezone in await work.tx.round_keys():
        if name != plan_name:
            continue
        when = work.now
        if plan.quiet_hours is not None and not emergency:
            when = end_of_quiet(work.now, plan.quiet_hours, timezone)
        key = manual_round_key(plan_name, timezone, grid, emergency)
        await work.tx.add_timer(when, TIMER_MANUAL_ROUND, 0, key, work.now)
        await work.tx.audit(work.now, "round.queued", key, None, when.isoformat())
        queued.append((timezone, when))
    return queued


async def _on_manual_round_due(work: Work, timer: Timer) -> None:
    plan_name, timezone, grid, emergency = parse_manual_round_key(timer.arg)
    plan = work.config.plans.get(plan_name)
    if plan is None:
        return
    result = await checkin.open_round(
        work,
        plan_name,
        timezone,
        work.now,
        grid=grid,
        skip_asked_since=previous_round(plan, timezone, work.now),
        emergency=emergency,
    )
    await work.tx.audit(work.now, "round.opened", timer.arg, None, str(result.opened))
    log.info("round %s (started by hand) opened: %d check-ins", timer.arg, result.opened)


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
        await checkin.on_prompt_undeliverable(work, row.ref, error)
    elif row.purpose == escalation.PURPOSE_ALERT:
        await escalation.on_copy_undeliverable(work, row, error)
