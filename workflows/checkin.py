"""The daily check-in: open a round, remind, take any sign of life, close the window.

A check-in is `sent` when its prompt is written to the outbox, `reminded` after a
reminder, and ends `ok`, `help`, `missed` (window closed in silence, an alert opens)
or `unreachable` (the prompt could not be delivered, an alert opens).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.commands import Button, Priority
from core.config import Channel
from core.enums import ConsentDecision, OutboxState, Purpose, Role, TimerKind
from core.events import ButtonPressed, MessageReceived
from core.ids import ChatRef, CheckinId, PersonId, split_chat_ref
from core.outbox import NewMessage
from core.records import (
    OPEN_CHECKIN_STATES,
    AlertReason,
    Checkin,
    CheckinState,
    ContactKind,
    Person,
    Timer,
)
from workflows import escalation, privacy
from workflows.actions import ActionKind, ActionToken
from workflows.context import Work
from workflows.messaging import answer_press, edit, to_person
from workflows.routes import Audience, Routes, feedback, refuse, reply, reply_text
from workflows.timefmt import hm, local

log = logging.getLogger(__name__)

PURPOSE_PROMPT = Purpose.PROMPT
PURPOSE_REMINDER = Purpose.REMINDER
TIMER_REMIND = TimerKind.REMIND
TIMER_CLOSE = TimerKind.CLOSE

# The two answers a prompt offers; emoji are what Matrix residents react with.
OK_EMOJI = "✅"
HELP_EMOJI = "🆘"


# A round's prompts are built and written this many at a time, so a round for a
# whole street never holds every message in memory at once.
ROUND_CHUNK = 2000
# A window that would end within this of now is not worth postponing.
WINDOW_SLACK = timedelta(seconds=1)


def prompt_buttons(work: Work, person: Person, checkin_id: int) -> tuple[tuple[Button, ...], ...]:
    return _with_tokens(_labels(work, person.language), _tokens(work, person.id, checkin_id))


def _tokens(work: Work, person_id: PersonId, checkin_id: int) -> tuple[str, str]:
    """What the ✅ and the 🆘 of a prompt carry."""
    return (
        work.signer.token(ActionKind.CHECKIN_OK, checkin_id, person_id),
        work.signer.token(ActionKind.CHECKIN_HELP, checkin_id, person_id),
    )


def _with_tokens(
    labels: tuple[str, str], tokens: tuple[str, str]
) -> tuple[tuple[Button, ...], ...]:
    (ok, help_), (ok_token, help_token) = labels, tokens
    return ((Button(ok, ok_token, OK_EMOJI), Button(help_, help_token, HELP_EMOJI)),)


def _labels(work: Work, language: str) -> tuple[str, str]:
    return work.texts.render(language, "btn_ok"), work.texts.render(language, "btn_help")


async def open_round(
    work: Work,
    plan_name: str,
    timezone: str,
    due_at: datetime,
    *,
    grid: str = "",
    skip_asked_since: datetime | None = None,
    emergency: bool = False,
) -> RoundResult:
    """Open this round's check-ins for every enrolled, active resident on the plan who
    is not away.

    The window counts from when this resident's prompt really went out (see
    `on_window_closed`): a round opened late, or a prompt held up behind others,
    still gives each resident their full window. With `skip_asked_since`, residents
    who already have an open check-in or were asked since then are left out (a round
    started by hand on top of the scheduled one). Residents checked by phone get a
    check-in too, without a prompt: the result lists them for their callers' tasks
    (`workflows.calls`)."""
    plan = work.config.plans.get(plan_name)
    if plan is None:
        log.warning("round for unknown plan %r skipped", plan_name)
        return RoundResult()
    # One row per identity: a resident reachable on two platforms is asked on both.
    by_phone = plan.channel is Channel.PHONE
    targets = [] if by_phone else await work.tx.round_residents(plan_name, timezone, grid)
    callees = await work.tx.call_residents(plan_name, timezone, grid, everyone=by_phone)
    away = {a.person_id for a in await work.tx.away_at(work.now)}
    if away:
        targets = [t for t in targets if t[0] not in away]
        callees = [p for p in callees if p.id not in away]
    people = sorted({target[0] for target in targets} | {p.id for p in callees})
    skipped = 0
    if skip_asked_since is not None:
        asked = await work.tx.asked_since(skip_asked_since)
        skipped = sum(1 for p in people if p in asked)
        people = [p for p in people if p not in asked]
    await escalation.remind_unresolved(work, set(people))
    deadline = work.now + plan.reply_window
    # The ids first, so that the prompts' buttons are signed while the check-ins go in
    # (a round of 100,000 keeps the database busy for seconds with them).
    planned = dict(zip(people, await work.tx.new_checkin_ids(len(people)), strict=True))
    opening = asyncio.ensure_future(
        work.tx.open_checkins(plan_name, due_at, work.now, deadline, people, ids=planned)
    )
    try:
        signed = await _sign_prompts(work, targets, planned)
    finally:
        # Nothing else may use the transaction while that statement runs.
        opened = await opening
    if not opened:
        return RoundResult(skipped=skipped)
    # Every check-in of a round has its reminders at the same moments: whether one
    # lands in quiet hours is decided once.
    each: list[tuple[datetime, str, str]] = []
    for index, after in enumerate(plan.reminders):
        at = work.now + after
        # Reminders are routine: one that would land in quiet hours is dropped.
        if plan.quiet_hours is not None and plan.quiet_hours.contains(local(at, timezone).time()):
            continue
        each.append((at, TIMER_REMIND, str(index)))
    each.append((deadline, TIMER_CLOSE, ""))
    called = {p.id for p in callees}
    checkin_ids = [c for p, c in opened.items() if p not in called]
    for start in range(0, len(checkin_ids), ROUND_CHUNK):
        await work.tx.add_timers(
            [
                (at, kind, checkin_id, arg)
                for checkin_id in checkin_ids[start : start + ROUND_CHUNK]
                for at, kind, arg in each
            ],
            work.now,
        )
    # A call task is not re-asked: the caller's window alone.
    calls = [(p, opened[p.id]) for p in callees if p.id in opened]
    await work.tx.add_timers([(deadline, TIMER_CLOSE, c, "") for _, c in calls], work.now)
    work.timers_added = True

    greeting = "checkin_emergency" if emergency else "checkin"
    await work.tx.enqueue_many(_prompts(work, targets, signed, opened, greeting), work.now)
    return RoundResult(opened=len(opened), skipped=skipped, calls=tuple(calls))


def _prompts(
    work: Work,
    targets: Sequence[tuple[PersonId, ChatRef, str, str]],
    signed: Sequence[tuple[str, str]],
    opened: Mapping[PersonId, CheckinId],
    greeting: str,
) -> Iterator[tuple[str, NewMessage]]:
    """The round's prompts, made one by one as the store writes them."""
    labels: dict[str, tuple[str, str]] = {}
    for (person_id, chat, name, language), tokens in zip(targets, signed, strict=True):
        new_id = opened.get(person_id)
        if new_id is None:
            continue  # had this round's check-in already (a round replayed)
        platform, _ = split_chat_ref(chat)
        work.touched_platforms.add(platform)
        if language not in labels:
            labels[language] = _labels(work, language)
        yield (
            platform,
            NewMessage(
                chat=chat,
                text=work.texts.render(language, greeting, name=name),
                priority=Priority.ROUTINE,
                person_id=person_id,
                purpose=PURPOSE_PROMPT,
                ref=new_id,
                buttons=_with_tokens(labels[language], tokens),
            ),
        )


async def _sign_prompts(
    work: Work,
    targets: Sequence[tuple[PersonId, ChatRef, str, str]],
    planned: Mapping[PersonId, CheckinId],
) -> list[tuple[str, str]]:
    """Each target's prompt tokens (none for a resident left out of the round), a chunk
    at a time: between chunks, the statement opening the check-ins goes on."""
    signed: list[tuple[str, str]] = []
    for start in range(0, len(targets), ROUND_CHUNK):
        for person_id, _, _, _ in targets[start : start + ROUND_CHUNK]:
            checkin_id = planned.get(person_id)
            signed.append(("", "") if checkin_id is None else _tokens(work, person_id, checkin_id))
        await asyncio.sleep(0)
    return signed


@dataclass(frozen=True)
class RoundResult:
    opened: int = 0
    skipped: int = 0  # already asked in this round
    deferred_until: datetime | None = None  # started inside quiet hours: queued until then
    # Residents checked by phone, with their new check-in: their callers get the tasks.
    calls: tuple[tuple[Person, CheckinId], ...] = ()


async def open_one(work: Work, person: Person, greeting: str) -> CheckinId | None:
    """One check-in for one resident outside a round (the welcome back after time
    away), on their plan, with reminders and a window as a round's. For a resident
    checked by phone it is opened without a prompt: the caller's task asks."""
    plan = work.config.plans.get(person.plan)
    if plan is None:
        return None
    opened = await work.tx.open_checkins(
        person.plan, work.now, work.now, work.now + plan.reply_window, [person.id]
    )
    checkin_id = opened.get(person.id)
    if checkin_id is None:
        return None
    timers = [(work.now + plan.reply_window, TIMER_CLOSE, checkin_id, "")]
    if person.contact == "chat" and plan.channel is Channel.CHAT:
        timers += [
            (work.now + after, TIMER_REMIND, checkin_id, str(index))
            for index, after in enumerate(plan.reminders)
        ]
        await to_person(
            work,
            person,
            work.texts.render(person.language, greeting, name=person.name),
            priority=Priority.ROUTINE,
            buttons=prompt_buttons(work, person, checkin_id),
            purpose=PURPOSE_PROMPT,
            ref=checkin_id,
        )
    await work.tx.add_timers(timers, work.now)
    work.timers_added = True
    return CheckinId(checkin_id)


async def _window_start(work: Work, checkin: Checkin) -> datetime | None:
    """When the resident could first see the prompt: its delivery. None while it is
    still queued (a backlog, a platform retrying)."""
    delivered = await work.tx.prompt_delivered_at(checkin.id)
    if delivered is not None:
        return max(delivered, checkin.sent_at)
    for row in await work.tx.outbox_for(PURPOSE_PROMPT, checkin.id):
        if row.state == OutboxState.PENDING:
            return None
    # Nothing can still arrive (refused, cancelled): the window is as it was opened.
    return checkin.sent_at


async def _postponed(work: Work, checkin: Checkin, kind: str, arg: str, after: timedelta) -> bool:
    """Move a check-in's timer so it counts from delivery; True when it was moved."""
    start = await _window_start(work, checkin)
    due = (work.now if start is None else start) + after
    if start is not None and due <= work.now + WINDOW_SLACK:
        return False
    await work.tx.add_timer(due, kind, checkin.id, arg, work.now)
    work.timers_added = True
    if kind == TIMER_CLOSE:
        await work.tx.set_deadline(checkin.id, due)
    return True


async def on_reminder_due(work: Work, checkin_id: int, arg: str = "") -> None:
    checkin = await work.tx.checkin(checkin_id)
    if checkin is None or checkin.state not in OPEN_CHECKIN_STATES:
        return
    plan = work.config.plans.get(checkin.plan)
    index = int(arg) if arg.isdigit() else -1
    if (
        plan is not None
        and 0 <= index < len(plan.reminders)
        and await _postponed(work, checkin, TIMER_REMIND, arg, plan.reminders[index])
    ):
        return
    person = await work.tx.person(checkin.person_id)
    if person is None:
        return
    await work.tx.count_reminder(checkin.id)
    await to_person(
        work,
        person,
        work.texts.render(person.language, "reminder", name=person.name),
        priority=Priority.ROUTINE,
        buttons=prompt_buttons(work, person, checkin.id),
        purpose=PURPOSE_REMINDER,
        ref=checkin.id,
    )


async def on_window_closed(work: Work, checkin_id: int) -> None:
    checkin = await work.tx.checkin(checkin_id)
    if checkin is None or checkin.state not in OPEN_CHECKIN_STATES:
        return
    plan = work.config.plans.get(checkin.plan)
    if plan is not None and await _postponed(work, checkin, TIMER_CLOSE, "", plan.reply_window):
        return
    if not await work.tx.set_checkin_state(
        checkin.id, CheckinState.MISSED, only_if=OPEN_CHECKIN_STATES
    ):
        return
    person = await work.tx.person(checkin.person_id)
    if person is None:
        return
    await work.tx.audit(work.now, "checkin.missed", f"checkin:{checkin.id}", None)
    await escalation.open_alert(work, person, AlertReason.MISSED, checkin_id=checkin.id)


async def record_answer(
    work: Work, person: Person, *, help_wanted: bool, said: str, via: str, quiet: bool = False
) -> bool:
    """Any sign of life from a resident. Answers their open check-in; after a missed
    one, calls off the alert that silence opened; a call for help opens an alert
    whether or not a check-in is open. Returns whether it answered or called off
    anything (otherwise it was a sign of life outside any round)."""
    answered = False
    state = CheckinState.HELP if help_wanted else CheckinState.OK
    # Normally one; several only if rounds overlapped: one answer covers them all.
    for checkin in await work.tx.open_checkins_of(person.id):
        if await work.tx.set_checkin_state(
            checkin.id,
            state,
            only_if=OPEN_CHECKIN_STATES,
            answered_at=work.now,
            answer=via,
        ):
            answered = True
            await work.tx.cancel_timers(checkin.id, (TIMER_REMIND, TIMER_CLOSE))
            await _mark_prompts_answered(work, person, checkin, help_wanted)
            await work.tx.audit(
                work.now, f"checkin.{state.value}", f"checkin:{checkin.id}", person.id, via
            )
    if help_wanted:
        await escalation.open_alert(work, person, AlertReason.HELP, checkin_id=None, said=said)
        return True
    called_off = await escalation.call_off_silence_alert(work, person)
    if not answered and called_off is not None and called_off.checkin_id is not None:
        # Answered after the window closed: the missed prompt shows it, and the
        # resident hears that it counted.
        late = await work.tx.checkin(called_off.checkin_id)
        if late is not None:
            await _mark_prompts_answered(work, person, late, help_wanted=False)
    if (answered or called_off is not None) and via != "button" and not quiet:
        await to_person(
            work, person, work.texts.render(person.language, "thanks"), priority=Priority.REPLY
        )
    return answered or called_off is not None


async def record_proxy_answer(
    work: Work, resident: Person, by: Person, kind: ContactKind, note: str = ""
) -> tuple[bool, int | None]:
    """Someone vouches for the resident: a caller reached them by phone, or someone saw
    them. Their open check-ins count as answered by proxy (the answer says how), an
    alert opened by silence stands down (not a call for help), and it is their last
    human contact. Returns (a check-in was answered, the alert stood down)."""
    answered = False
    for checkin in await work.tx.open_checkins_of(resident.id):
        if await work.tx.set_checkin_state(
            checkin.id,
            CheckinState.OK,
            only_if=OPEN_CHECKIN_STATES,
            answered_at=work.now,
            answer=kind.value,
        ):
            answered = True
            await work.tx.cancel_timers(
                checkin.id, (TIMER_REMIND, TIMER_CLOSE, TimerKind.CALL_RETRY)
            )
            await _mark_prompts_vouched(work, resident, checkin, by)
            await work.tx.audit(
                work.now, "checkin.ok", f"checkin:{checkin.id}", by.id, f"{kind.value} by {by.name}"
            )
    await work.tx.add_contact(resident.id, work.now, kind, by.id, note)
    outcome = escalation.CALLED if kind is ContactKind.CALL else escalation.VISITED
    called_off = await escalation.call_off_silence_alert(work, resident, by=by, outcome=outcome)
    return answered, None if called_off is None else called_off.id


async def _mark_prompts_vouched(work: Work, person: Person, checkin: Checkin, by: Person) -> None:
    """The resident's unanswered prompt shows who vouched for them, without buttons."""
    lang = person.language
    recorded = work.texts.render(
        lang, "recorded_vouched", who=by.name, time=hm(work.now, person.timezone)
    )
    base = work.texts.render(lang, "checkin", name=person.name)
    for row in await work.tx.outbox_for_each((PURPOSE_PROMPT, PURPOSE_REMINDER), checkin.id):
        await edit(work, row, f"{base}\n{recorded}")


async def _mark_prompts_answered(
    work: Work, person: Person, checkin: Checkin, help_wanted: bool
) -> None:
    text = answered_prompt_text(work, person, help_wanted)
    for row in await work.tx.outbox_for_each(PROMPT_PURPOSES, checkin.id):
        # The edit removes the buttons, so an old prompt cannot be answered twice.
        await edit(work, row, text)


# A check-in's messages that offer its buttons, in the order they are edited when it is
# answered.
PROMPT_PURPOSES = (PURPOSE_PROMPT, PURPOSE_REMINDER)


def answered_prompt_text(work: Work, person: Person, help_wanted: bool) -> str:
    """What an answered prompt reads afterwards (its buttons gone)."""
    checkin = work.texts.render(person.language, "checkin", name=person.name)
    return f"{checkin}\n{recorded_text(work, person, help_wanted)}"


def recorded_text(work: Work, person: Person, help_wanted: bool) -> str:
    """ "Recorded at 09:12" (or that help is on its way), in the person's language."""
    return work.texts.render(
        person.language,
        "recorded_help" if help_wanted else "recorded_ok",
        time=hm(work.now, person.timezone),
    )


async def on_prompt_undeliverable(work: Work, checkin_id: int, reason: str) -> None:
    checkin = await work.tx.checkin(checkin_id)
    if checkin is None:
        return
    if not await work.tx.set_checkin_state(
        checkin.id, CheckinState.UNREACHABLE, only_if=OPEN_CHECKIN_STATES
    ):
        return
    await work.tx.cancel_timers(checkin.id, (TIMER_REMIND, TIMER_CLOSE))
    person = await work.tx.person(checkin.person_id)
    if person is not None:
        await escalation.open_alert(
            work, person, AlertReason.UNREACHABLE, checkin_id=CheckinId(checkin.id), said=reason
        )


async def stop(work: Work, person: Person) -> None:
    """The resident opts out of routine check-ins (/stop): the open one counts as
    answered, and their grid leaders are told."""
    await work.tx.set_active(person.id, False)
    for open_checkin in await work.tx.open_checkins_of(person.id):
        await work.tx.set_checkin_state(
            open_checkin.id,
            CheckinState.OK,
            only_if=OPEN_CHECKIN_STATES,
            answered_at=work.now,
            answer="stop",
        )
        await work.tx.cancel_timers(open_checkin.id, (TIMER_REMIND, TIMER_CLOSE))
    await work.tx.audit(work.now, "person.stopped", f"person:{person.id}", person.id)
    for leader in await work.tx.responders(person.grid, Role.GRID_LEADER):
        await to_person(
            work,
            leader,
            work.texts.render(
                leader.language, "stop_notice", name=person.name, place=person.place or "-"
            ),
            priority=Priority.REPLY,
        )


routes = Routes()


@routes.command("stop")
async def _stop_command(
    work: Work, person: Person, event: MessageReceived, args: list[str]
) -> None:
    if person.role != Role.RESIDENT:
        # A family contact or volunteer takes back their yes; others are told whom to ask.
        await reply_text(work, event, person, await privacy.withdraw(work, person))
        return
    await stop(work, person)
    await work.tx.add_consent(person.id, 0, ConsentDecision.WITHDRAWN, "", work.now, "/stop")
    await reply(work, event, person, "stopped")


@routes.command("start", audience=Audience.RESIDENTS)
async def _restart_command(
    work: Work, person: Person, event: MessageReceived, args: list[str]
) -> None:
    await work.tx.set_active(person.id, True)
    await work.tx.audit(work.now, "person.restarted", f"person:{person.id}", person.id)
    await privacy.record_resident_consent(work, person, "/start")
    await reply(work, event, person, "restarted")


# A prompt's buttons still count after its window closed: a late answer calls off the alert.
_ANSWERABLE = (
    CheckinState.SENT,
    CheckinState.REMINDED,
    CheckinState.MISSED,
    CheckinState.UNREACHABLE,
)


@routes.button(ActionKind.CHECKIN_OK, ActionKind.CHECKIN_HELP)
async def _answer_pressed(
    work: Work, person: Person, event: ButtonPressed, action: ActionToken
) -> None:
    lang = person.language
    if action.issued_to != person.id:
        await refuse(work, event, person)
        return
    found = await work.tx.checkin(action.ref)
    if found is None or found.state not in _ANSWERABLE or found.person_id != person.id:
        await feedback(work, event, person, work.texts.render(lang, "stale_button"))
        return
    help_wanted = action.kind is ActionKind.CHECKIN_HELP
    await record_answer(
        work,
        person,
        help_wanted=help_wanted,
        said=work.texts.render(lang, "btn_help" if help_wanted else "btn_ok"),
        via="button",
    )
    if event.callback_id:  # only Telegram wants the press answered (a toast)
        await answer_press(
            work, event.chat, event.callback_id, recorded_text(work, person, help_wanted)
        )


@routes.timer(TIMER_REMIND)
async def _reminder_due(work: Work, timer: Timer) -> None:
    await on_reminder_due(work, timer.ref, timer.arg)


@routes.timer(TIMER_CLOSE)
async def _window_due(work: Work, timer: Timer) -> None:
    await on_window_closed(work, timer.ref)
