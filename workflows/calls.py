"""Phone-call tasks: residents without a chat app, or no longer reachable by chat.

At a round's time each resident checked by phone gets a check-in like everyone else,
but no prompt: their caller (the CSV `caller`, else the grid's `callers` in the
workflow file, else the grid's people with role caller) gets a task in their own chat,
"请给刘桂兰打电话：13800000011（3栋2单元402）", with three buttons:

- ✅ 接通·平安 answers the check-in by proxy (answer `call`), the resident's last
  human contact;
- 🆘 接通·需要帮助 opens an urgent alert; a reply to the task is a note on it;
- 📵 无人接听 rings again after the plan's `call_retry`, up to `call_attempts` calls,
  then the check-in is missed and a missed alert opens.

A task nobody takes within the plan's reply window closes the check-in as missed, and
the alert walks as for any missed check-in. A chat resident whose prompts could not be
delivered two rounds in a row is switched to phone calls, and the grid leaders are told.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from core.commands import Button, Priority
from core.enums import OutboxState, Purpose, Role, TimerKind
from core.events import ButtonPressed
from core.ids import CheckinId
from core.records import (
    OPEN_CHECKIN_STATES,
    AlertReason,
    CallOutcome,
    Checkin,
    CheckinState,
    Contact,
    ContactKind,
    Person,
    Timer,
)
from workflows import checkin, cover, escalation, privacy
from workflows.actions import ActionKind, ActionToken
from workflows.context import Work
from workflows.messaging import edit, to_person
from workflows.routes import Routes, feedback, refuse
from workflows.timefmt import hm

log = logging.getLogger(__name__)

PURPOSE_CALL = Purpose.CALL
TIMER_RETRY = TimerKind.CALL_RETRY
OK_EMOJI = "✅"
HELP_EMOJI = "🆘"
NO_ANSWER_EMOJI = "📵"
# Undeliverable rounds in a row after which a chat resident is phoned instead.
SWITCH_AFTER = 2
CALLER_ROLES = (Role.CALLER, Role.TEAM_MEMBER)

routes = Routes()


async def callers_for(work: Work, resident: Person) -> list[Person]:
    """Who phones this resident: their own caller, else the grid's callers from the
    workflow file, else the grid's people with role caller. Someone away is covered
    by their deputy."""
    chosen: list[Person] = []
    if resident.caller is not None:
        own = await work.tx.person(resident.caller)
        if own is not None and own.active:
            chosen = [own]
    if not chosen:
        grid = work.config.grids.get(resident.grid)
        for name in [] if grid is None else grid.callers:
            person = await work.tx.person_by_name(name)
            if person is None or not person.active or person.role not in CALLER_ROLES:
                log.warning("grid %s: caller %r is not an active caller", resident.grid, name)
                continue
            chosen.append(person)
    if not chosen:
        # Callers of the grid, and those without a grid (they serve every grid).
        chosen = await work.tx.responders(resident.grid, Role.CALLER.value)
    people, _ = await cover.covered(work, chosen, resident.grid)
    # A volunteer phones residents (and learns their number) once they said yes.
    people = await privacy.consenting(work, people)
    return [p for p in people if await escalation.reachable(work, p)]


def _buttons(
    work: Work, caller: Person, checkin_id: int, attempt: int
) -> tuple[tuple[Button, ...], ...]:
    lang, arg = caller.language, str(attempt)
    return (
        (
            Button(
                work.texts.render(lang, "btn_call_ok"),
                work.signer.token(ActionKind.CALL_OK, checkin_id, caller.id, arg),
                OK_EMOJI,
            ),
            Button(
                work.texts.render(lang, "btn_call_help"),
                work.signer.token(ActionKind.CALL_HELP, checkin_id, caller.id, arg),
                HELP_EMOJI,
            ),
        ),
        (
            Button(
                work.texts.render(lang, "btn_call_no_answer"),
                work.signer.token(ActionKind.CALL_NO_ANSWER, checkin_id, caller.id, arg),
                NO_ANSWER_EMOJI,
            ),
        ),
    )


def _task_text(work: Work, caller: Person, resident: Person, attempt: int, attempts: int) -> str:
    text = work.texts.render(
        caller.language,
        "call_task",
        name=resident.name,
        phone=resident.phone or "-",
        place=resident.address or resident.place or "-",
    )
    if attempt > 1:
        text += "\n" + work.texts.render(
            caller.language, "call_task_attempt", n=attempt, total=attempts
        )
    return text


async def send_tasks(
    work: Work, calls: Sequence[tuple[Person, CheckinId]], attempt: int = 1
) -> int:
    """A task per resident to each of their callers; returns how many were sent. A
    resident with nobody to phone them cannot be checked: that is an alert at once."""
    sent = 0
    for resident, checkin_id in calls:
        plan = work.config.plans.get(resident.plan)
        attempts = plan.call_attempts if plan is not None else 1
        callers = await callers_for(work, resident)
        if not callers:
            if await work.tx.set_checkin_state(
                checkin_id, CheckinState.UNREACHABLE, only_if=OPEN_CHECKIN_STATES
            ):
                await work.tx.cancel_timers(checkin_id, (checkin.TIMER_CLOSE, TIMER_RETRY))
                await escalation.open_alert(
                    work,
                    resident,
                    AlertReason.UNREACHABLE,
                    checkin_id=checkin_id,
                    said=escalation.marked("call_no_caller"),
                )
            continue
        phone = resident.phone.replace(" ", "")
        for caller in callers:
            await to_person(
                work,
                caller,
                _task_text(work, caller, resident, attempt, attempts),
                priority=Priority.ROUTINE,
                buttons=_buttons(work, caller, checkin_id, attempt),
                purpose=PURPOSE_CALL,
                ref=checkin_id,
                links=(
                    ((work.texts.render(caller.language, "call_dial"), f"tel:{phone}"),)
                    if phone
                    else ()
                ),
            )
        await work.tx.audit(
            work.now,
            "call.task",
            f"checkin:{checkin_id}",
            None,
            f"attempt {attempt}: {', '.join(c.name for c in callers)}",
        )
        sent += 1
    return sent


async def _show_result(
    work: Work, checkin_id: int, resident: Person, key: str, **fields: object
) -> None:
    """Every copy of the task shows what came of it, without buttons."""
    for row in await work.tx.outbox_for(PURPOSE_CALL, checkin_id):
        if row.state in (OutboxState.CANCELLED, OutboxState.FAILED):
            continue
        reader = None if row.person_id is None else await work.tx.person(row.person_id)
        lang = reader.language if reader is not None else resident.language
        head = str(row.payload.get("text", ""))
        result = work.texts.render(lang, key, time=hm(work.now, resident.timezone), **fields)
        await edit(work, row, f"{head}\n{result}")


async def _open_checkin(work: Work, checkin_id: int) -> tuple[Checkin, Person] | None:
    found = await work.tx.checkin(checkin_id)
    if found is None or found.state not in OPEN_CHECKIN_STATES:
        return None
    resident = await work.tx.person(found.person_id)
    return None if resident is None else (found, resident)


async def _closed_in_silence(work: Work, checkin_id: int) -> tuple[Checkin, Person] | None:
    found = await work.tx.checkin(checkin_id)
    if found is None or found.state not in (CheckinState.MISSED, CheckinState.UNREACHABLE):
        return None
    resident = await work.tx.person(found.person_id)
    return None if resident is None else (found, resident)


@routes.button(ActionKind.CALL_OK, ActionKind.CALL_HELP, ActionKind.CALL_NO_ANSWER)
async def _call_pressed(
    work: Work, person: Person, event: ButtonPressed, action: ActionToken
) -> None:
    lang = person.language
    if action.issued_to != person.id:
        await refuse(work, event, person)
        return
    found = await _open_checkin(work, action.ref)
    if found is None and action.kind is not ActionKind.CALL_NO_ANSWER:
        # Reached after the window closed: as a late answer to a prompt, it calls off
        # the alert that silence opened (or, needing help, makes it urgent).
        found = await _closed_in_silence(work, action.ref)
    if found is None:
        await feedback(work, event, person, work.texts.render(lang, "stale_button"))
        return
    task, resident = found
    match action.kind:
        case ActionKind.CALL_OK:
            await work.tx.add_call_attempt(task.id, person.id, work.now, CallOutcome.ANSWERED)
            await checkin.record_proxy_answer(work, resident, person, ContactKind.CALL)
            await _show_result(work, task.id, resident, "call_done_ok", who=person.name)
            text = work.texts.render(lang, "call_recorded_ok", name=resident.name)
        case ActionKind.CALL_HELP:
            text = await _help(work, person, task, resident)
        case _:
            text = await _no_answer(work, person, task, resident)
    await feedback(work, event, person, text)


async def _help(work: Work, caller: Person, task: Checkin, resident: Person) -> str:
    """Reached, and they need help: the check-in is answered "help" and an urgent
    alert opens with the caller's word; a reply to the task adds what was said."""
    await work.tx.add_call_attempt(task.id, caller.id, work.now, CallOutcome.HELP)
    await work.tx.set_checkin_state(
        task.id,
        CheckinState.HELP,
        only_if=OPEN_CHECKIN_STATES,
        answered_at=work.now,
        answer=ContactKind.CALL.value,
    )
    await work.tx.cancel_timers(task.id, (checkin.TIMER_CLOSE, TIMER_RETRY))
    await work.tx.add_contact(resident.id, work.now, ContactKind.CALL, caller.id)
    said = escalation.marked("call_help_said", who=caller.name)
    alert_id = await escalation.open_alert(
        work, resident, AlertReason.HELP, checkin_id=None, said=said
    )
    await _show_result(work, task.id, resident, "call_done_help", who=caller.name, alert=alert_id)
    return work.texts.render(
        caller.language, "call_recorded_help", name=resident.name, alert=alert_id
    )


async def _no_answer(work: Work, caller: Person, task: Checkin, resident: Person) -> str:
    await work.tx.add_call_attempt(task.id, caller.id, work.now, CallOutcome.NO_ANSWER)
    plan = work.config.plans.get(task.plan)
    attempts = 1 if plan is None else plan.call_attempts
    made = sum(
        1 for a in await work.tx.call_attempts(task.id) if a.outcome is CallOutcome.NO_ANSWER
    )
    if plan is not None and made < attempts:
        # The window waits for the next call: it restarts when that task goes out.
        await work.tx.cancel_timers(task.id, (checkin.TIMER_CLOSE,))
        again = work.now + plan.call_retry
        await work.tx.add_timer(again, TIMER_RETRY, task.id, str(made + 1), work.now)
        await work.tx.set_deadline(task.id, again + plan.reply_window)
        work.timers_added = True
        retry_at = hm(again, resident.timezone)
        await _show_result(
            work, task.id, resident, "call_done_retry", who=caller.name, n=made, again=retry_at
        )
        return work.texts.render(caller.language, "call_recorded_retry", again=retry_at)
    if not await work.tx.set_checkin_state(
        task.id, CheckinState.MISSED, only_if=OPEN_CHECKIN_STATES
    ):
        return work.texts.render(caller.language, "stale_button")
    await work.tx.cancel_timers(task.id, (checkin.TIMER_CLOSE, TIMER_RETRY))
    await work.tx.audit(
        work.now, "checkin.missed", f"checkin:{task.id}", caller.id, f"{made} calls"
    )
    alert_id = await escalation.open_alert(work, resident, AlertReason.MISSED, checkin_id=task.id)
    await work.tx.add_alert_note(
        alert_id, None, work.now, escalation.marked("call_unanswered_note", n=made)
    )
    await escalation.refresh_copies(work, alert_id)
    await _show_result(
        work, task.id, resident, "call_done_missed", who=caller.name, n=made, alert=alert_id
    )
    return work.texts.render(
        caller.language, "call_recorded_missed", name=resident.name, alert=alert_id
    )


@routes.timer(TIMER_RETRY)
async def _retry_due(work: Work, timer: Timer) -> None:
    found = await _open_checkin(work, timer.ref)
    if found is None:
        return
    task, resident = found
    plan = work.config.plans.get(task.plan)
    if plan is None:
        return
    # The earlier copies keep their result; the new task has the buttons.
    await work.tx.add_timer(
        work.now + plan.reply_window, checkin.TIMER_CLOSE, task.id, "", work.now
    )
    await work.tx.set_deadline(task.id, work.now + plan.reply_window)
    work.timers_added = True
    attempt = int(timer.arg) if timer.arg.isdigit() else 2
    await send_tasks(work, [(resident, task.id)], attempt=attempt)


async def on_prompt_undeliverable(work: Work, checkin_id: int, reason: str) -> None:
    """A chat prompt could not be delivered (an alert opens, as for any). The second
    round in a row: from now on the resident is phoned, and the grid leaders hear so."""
    await checkin.on_prompt_undeliverable(work, checkin_id, reason)
    found = await work.tx.checkin(checkin_id)
    resident = None if found is None else await work.tx.person(found.person_id)
    if resident is None or resident.contact != Contact.CHAT or not resident.phone:
        return
    recent = await work.tx.recent_checkins(resident.id, SWITCH_AFTER)
    if len(recent) < SWITCH_AFTER or any(c.state is not CheckinState.UNREACHABLE for c in recent):
        return
    await work.tx.set_contact(resident.id, Contact.PHONE)
    await work.tx.audit(work.now, "person.switched_to_phone", f"person:{resident.id}", None, reason)
    log.info(
        "person %s unreachable %d rounds in a row: phoned from now on", resident.id, SWITCH_AFTER
    )
    callers = await callers_for(work, resident)
    for leader in await escalation.recipients(work, resident, Role.GRID_LEADER):
        await to_person(
            work,
            leader,
            work.texts.render(
                leader.language,
                "switched_to_phone",
                name=resident.name,
                place=resident.place or "-",
                rounds=SWITCH_AFTER,
                callers=", ".join(c.name for c in callers) or "-",
            ),
            priority=Priority.REPLY,
        )
