"""Where inbound events, due timers and failed deliveries enter the care logic."""

from __future__ import annotations

import logging
from datetime import timedelta

from gateway.config import Role
from gateway.domain.commands import Priority
from gateway.domain.events import ButtonPressed, ChatLeft, InboundEvent, MessageReceived
from gateway.domain.records import Alert, AlertReason, AlertState, CheckinState, Person, Timer
from gateway.store.delivery import OutboxRow
from workflows import checkin, enrollment, escalation, needs
from workflows.actions import ActionKind
from workflows.context import Work
from workflows.messaging import answer_press, to_chat, to_person
from workflows.rounds import end_of_quiet, next_round, parse_round_key, round_key
from workflows.texts.help_words import is_call_for_help
from workflows.timefmt import hm

log = logging.getLogger(__name__)

TIMER_ROUND = "round"
MERGE_CAUGHT_UP_ROUND = timedelta(hours=6)


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
            await to_chat(
                work,
                event.chat,
                work.texts.render("zh", "not_enrolled")
                + "\n"
                + work.texts.render("en", "not_enrolled"),
                priority=Priority.REPLY,
            )
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
    if (event.is_group and not own_chat) or person.role != Role.RESIDENT:
        return
    text = event.text.strip()
    open_checkin = await work.tx.open_checkin_of(person.id)
    help_wanted = is_call_for_help(text) or (open_checkin is not None and text == "2")
    await checkin.record_answer(
        work,
        person,
        help_wanted=help_wanted,
        said=text or event.kind.value,
        via=event.kind.value,
    )


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
            await work.tx.set_active(person.id, False)
            open_checkin = await work.tx.open_checkin_of(person.id)
            if open_checkin is not None:
                await work.tx.set_checkin_state(
                    open_checkin.id,
                    CheckinState.OK,
                    only_if=(CheckinState.SENT, CheckinState.REMINDED),
                    answered_at=work.now,
                    answer="stop",
                )
                await work.tx.cancel_timers(
                    open_checkin.id, (checkin.TIMER_REMIND, checkin.TIMER_CLOSE)
                )
            await work.tx.audit(work.now, "person.stopped", f"person:{person.id}", person.id)
            await _reply(work, event, person, "stopped")
            for leader in await work.tx.responders(person.grid, Role.GRID_LEADER):
                await to_person(
                    work,
                    leader,
                    work.texts.render(
                        leader.language, "stop_notice", name=person.name, place=person.place or "-"
                    ),
                    priority=Priority.REPLY,
                )
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
                # Anything else a resident sends is still a sign of life.
                await checkin.record_answer(
                    work, person, help_wanted=False, said=event.text, via="text"
                )
            else:
                await _reply(work, event, person, "help_responder")


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
                and (action.issued_to == person.id or person.role != Role.FAMILY)
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
            await checkin.on_reminder_due(work, timer.ref)
        case checkin.TIMER_CLOSE:
            await checkin.on_window_closed(work, timer.ref)
        case escalation.TIMER_STEP:
            await escalation.on_step_due(work, timer.ref)
        case "round":
            await _on_round_due(work, timer)
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
    opened = await checkin.open_round(work, plan_name, timezone, timer.due_at)
    await work.tx.audit(work.now, "round.opened", timer.arg, None, str(opened))
    log.info("round %s opened: %d check-ins", timer.arg, opened)
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


async def start_round_now(work: Work, plan_name: str) -> int:
    """Open a round at once for every timezone on the plan (dashboard, demo)."""
    total = 0
    for name, timezone in await work.tx.round_keys():
        if name == plan_name:
            total += await checkin.open_round(work, plan_name, timezone, work.now)
    return total


async def on_delivery_failed(work: Work, row: OutboxRow, error: str) -> None:
    await work.tx.audit(work.now, "delivery.failed", f"outbox:{row.id}", row.person_id, error)
    if row.purpose in (checkin.PURPOSE_PROMPT, checkin.PURPOSE_REMINDER):
        await checkin.on_prompt_undeliverable(work, row.ref, error)
