"""Alerts: open, walk the escalation policy on durable timers, acknowledge, resolve.

A walk notifies the responders of one step, waits, and moves on: grid leader, care
lead, family, and again `repeat` more times, until someone acknowledges. A step
whose role has nobody is passed over at once rather than waited out.
"""

from __future__ import annotations

import logging

from gateway.config import Role
from gateway.domain.commands import Button, Priority
from gateway.domain.ids import AlertId, CheckinId, OutboxId
from gateway.domain.records import Alert, AlertReason, AlertState, Checkin, Person
from workflows.actions import ActionKind
from workflows.context import Work
from workflows.messaging import edit, to_person
from workflows.timefmt import day_hm, hm

log = logging.getLogger(__name__)

PURPOSE_ALERT = "alert"
TIMER_STEP = "escalate"

OUTCOMES = ("ok", "visited", "hospital", "unreachable")
OUTCOME_EMOJI = {"ok": "🙂", "visited": "🚪", "hospital": "🏥", "unreachable": "❓"}
ACK_EMOJI = "👀"
RESOLVE_EMOJI = "✅"
LATE_ANSWER = "late_answer"


def outcome_label(work: Work, language: str, outcome: str) -> str:
    if outcome in (*OUTCOMES, LATE_ANSWER):
        return work.texts.render(language, f"outcome_{outcome}")
    return outcome


async def open_alert(
    work: Work,
    resident: Person,
    reason: AlertReason,
    *,
    checkin_id: CheckinId | None,
    checkin: Checkin | None = None,
    said: str = "",
) -> AlertId:
    """Open an alert, or join the one already open for this resident: a call for help
    on top of an unanswered check-in makes that alert urgent rather than a second one."""
    existing = await work.tx.unresolved_alert_of(resident.id)
    urgent = reason is AlertReason.HELP
    if existing is not None:
        if urgent and not existing.urgent:
            await work.tx.mark_urgent(existing.id)
            await work.tx.audit(work.now, "alert.urgent", f"alert:{existing.id}", resident.id, said)
            refreshed = await work.tx.alert(existing.id)
            assert refreshed is not None
            for person, _ in await _notified_people(work, refreshed):
                await _send_alert(work, refreshed, resident, person, said=said)
        return existing.id

    plan = work.config.plans.get(resident.plan)
    policy = plan.escalation if plan else next(iter(work.config.escalation_policies))
    detail = said
    if checkin is not None and reason is AlertReason.MISSED:
        detail = f"{checkin.due_at.timestamp()}|{checkin.deadline.timestamp()}"
    alert_id = await work.tx.create_alert(
        resident.id, checkin_id, reason, urgent, policy, work.now, detail
    )
    await work.tx.audit(work.now, f"alert.opened.{reason.value}", f"alert:{alert_id}", None, said)
    log.info(
        "alert %s opened for person %s: %s%s",
        alert_id,
        resident.id,
        reason.value,
        " (urgent)" if urgent else "",
    )
    alert = await work.tx.alert(alert_id)
    assert alert is not None
    await walk(work, alert)
    if reason is AlertReason.HELP:
        leaders = await work.tx.responders(resident.grid, Role.GRID_LEADER)
        key = "help_on_the_way" if leaders else "help_on_the_way_nobody"
        await to_person(
            work,
            resident,
            work.texts.render(resident.language, key, leader=leaders[0].name if leaders else ""),
            priority=Priority.ALERT,
        )
    return alert_id


async def recipients(work: Work, resident: Person, role: Role) -> list[Person]:
    if role is Role.FAMILY:
        return await work.tx.family_of(resident.id)
    return await work.tx.responders(resident.grid, role.value)


async def walk(work: Work, alert: Alert) -> None:
    """Notify the next step with somebody in it, then set the timer for the one after."""
    policy = work.config.escalation_policies.get(alert.policy)
    resident = await work.tx.person(alert.person_id)
    if policy is None or resident is None:
        log.error("alert %s cannot walk: policy %r or resident missing", alert.id, alert.policy)
        return
    total = len(policy.steps) * (policy.repeat + 1)
    position = alert.position
    while position < total:
        step = policy.steps[position % len(policy.steps)]
        people = await recipients(work, resident, step.notify)
        position += 1
        if not people:
            await work.tx.audit(
                work.now, "alert.step_empty", f"alert:{alert.id}", None, step.notify.value
            )
            continue
        for person in people:
            for outbox_id in await _send_alert(work, alert, resident, person):
                await work.tx.add_notification(
                    alert.id, person.id, outbox_id, position, step.notify.value, work.now
                )
        await work.tx.advance_alert(alert.id, position)
        await work.tx.audit(
            work.now,
            "alert.notified",
            f"alert:{alert.id}",
            None,
            f"step {position}: {step.notify.value}",
        )
        log.info(
            "alert %s step %d: %d %s notified", alert.id, position, len(people), step.notify.value
        )
        wait = step.wait or policy.default_wait
        await work.tx.add_timer(work.now + wait, TIMER_STEP, alert.id, str(position), work.now)
        work.timers_added = True
        return
    await work.tx.advance_alert(alert.id, position)
    await _exhausted(work, alert, resident)


async def _exhausted(work: Work, alert: Alert, resident: Person) -> None:
    """Every step has been tried: say so to operators and everyone notified. The
    alert stays open on the dashboard; it is never dropped."""
    await work.tx.audit(work.now, "alert.exhausted", f"alert:{alert.id}")
    told = {p.id: p for p, _ in await _notified_people(work, alert)}
    for operator in await work.tx.responders(resident.grid, Role.OPERATOR.value):
        told.setdefault(operator.id, operator)
    for person in told.values():
        await to_person(
            work,
            person,
            work.texts.render(
                person.language,
                "alert_exhausted",
                alert=alert.id,
                name=resident.name,
                place=resident.place,
            ),
            priority=Priority.ALERT,
        )


async def on_step_due(work: Work, alert_id: int) -> None:
    alert = await work.tx.alert(alert_id)
    if alert is None or alert.state is not AlertState.OPEN:
        return
    await walk(work, alert)


def _alert_body(work: Work, alert: Alert, resident: Person, language: str, said: str) -> str:
    fields: dict[str, object] = {
        "alert": alert.id,
        "name": resident.name,
        "place": resident.place or "-",
        "phone": resident.phone or "-",
        "time": hm(alert.opened_at, resident.timezone),
        "said": said or alert.detail or "-",
        "reason": said or alert.detail,
    }
    if alert.reason is AlertReason.MISSED and "|" in alert.detail:
        due, deadline = (float(x) for x in alert.detail.split("|"))
        from gateway.store.base import from_ts

        fields["due"] = day_hm(from_ts(due), resident.timezone)
        fields["deadline"] = hm(from_ts(deadline), resident.timezone)
    return work.texts.render(language, f"alert_{alert.reason.value}", **fields)


def _alert_buttons(work: Work, alert: Alert, person: Person) -> tuple[tuple[Button, ...], ...]:
    lang = person.language
    resolve = Button(
        work.texts.render(lang, "btn_resolve"),
        work.signer.token(ActionKind.ALERT_RESOLVE_MENU, alert.id, person.id),
        RESOLVE_EMOJI,
    )
    if alert.state is AlertState.RESOLVED:
        return ()
    if alert.state is AlertState.ACKNOWLEDGED:
        return ((resolve,),)
    ack = Button(
        work.texts.render(lang, "btn_ack"),
        work.signer.token(ActionKind.ALERT_ACK, alert.id, person.id),
        ACK_EMOJI,
    )
    return ((ack, resolve),)


async def _footer(work: Work, alert: Alert, resident: Person, language: str) -> str:
    if alert.state is AlertState.OPEN:
        return work.texts.render(language, "alert_footer_open")
    if alert.outcome == LATE_ANSWER and alert.resolved_at is not None:
        return work.texts.render(
            language,
            "alert_footer_stand_down",
            name=resident.name,
            time=hm(alert.resolved_at, resident.timezone),
        )
    if alert.state is AlertState.ACKNOWLEDGED and alert.acked_at is not None:
        who = await _name(work, alert.acked_by)
        return work.texts.render(
            language, "alert_footer_acked", who=who, time=hm(alert.acked_at, resident.timezone)
        )
    assert alert.resolved_at is not None
    who = await _name(work, alert.resolved_by)
    return work.texts.render(
        language,
        "alert_footer_resolved",
        who=who,
        time=hm(alert.resolved_at, resident.timezone),
        outcome=outcome_label(work, language, alert.outcome),
    )


async def _name(work: Work, person_id: int | None) -> str:
    if person_id is None:
        return "-"
    person = await work.tx.person(person_id)
    return person.name if person else "-"


async def _send_alert(
    work: Work, alert: Alert, resident: Person, person: Person, said: str = ""
) -> list[OutboxId]:
    text = _alert_body(work, alert, resident, person.language, said)
    text += "\n" + await _footer(work, alert, resident, person.language)
    return list(
        await to_person(
            work,
            person,
            text,
            priority=Priority.ALERT,
            buttons=_alert_buttons(work, alert, person),
            purpose=PURPOSE_ALERT,
            ref=alert.id,
        )
    )


async def _notified_people(work: Work, alert: Alert) -> list[tuple[Person, list[int]]]:
    by_person: dict[int, tuple[Person, list[int]]] = {}
    for person_id, outbox_id in await work.tx.notifications(alert.id):
        if person_id is None:
            continue
        if person_id not in by_person:
            person = await work.tx.person(person_id)
            if person is None:
                continue
            by_person[person_id] = (person, [])
        by_person[person_id][1].append(outbox_id)
    return list(by_person.values())


async def refresh_copies(work: Work, alert_id: AlertId) -> None:
    """Edit every copy of the alert so each responder sees who did what, and when."""
    alert = await work.tx.alert(alert_id)
    if alert is None:
        return
    resident = await work.tx.person(alert.person_id)
    if resident is None:
        return
    for person, outbox_ids in await _notified_people(work, alert):
        text = _alert_body(work, alert, resident, person.language, "")
        text += "\n" + await _footer(work, alert, resident, person.language)
        for outbox_id in outbox_ids:
            row = await work.tx.outbox_row(outbox_id)
            if row is not None:
                await edit(
                    work,
                    row,
                    text,
                    buttons=_alert_buttons(work, alert, person),
                    priority=Priority.ALERT,
                )


def may_act(alert: Alert, resident: Person, person: Person) -> bool:
    """Responders of the resident's grid (or of every grid), and the resident's family."""
    if person.role == Role.FAMILY:
        return person.family_of == resident.id
    if person.role == Role.RESIDENT:
        return False
    return person.grid in ("", resident.grid)


async def acknowledge(work: Work, alert: Alert, by: Person) -> str:
    """Returns the text to show the person who acted."""
    lang = by.language
    if alert.state is AlertState.RESOLVED:
        return work.texts.render(lang, "already_resolved", alert=alert.id)
    if alert.state is AlertState.ACKNOWLEDGED:
        who = await _name(work, alert.acked_by)
        return work.texts.render(lang, "already_acked", alert=alert.id, who=who)
    if not await work.tx.acknowledge_alert(alert.id, by.id, work.now):
        return work.texts.render(lang, "already_resolved", alert=alert.id)
    await work.tx.cancel_timers(alert.id, (TIMER_STEP,))
    await work.tx.audit(work.now, "alert.acknowledged", f"alert:{alert.id}", by.id)
    log.info("alert %s acknowledged by person %s", alert.id, by.id)
    await refresh_copies(work, alert.id)
    return work.texts.render(lang, "acked", alert=alert.id)


async def resolve(work: Work, alert: Alert, by: Person, outcome: str) -> str:
    lang = by.language
    if alert.state is AlertState.RESOLVED:
        return work.texts.render(lang, "already_resolved", alert=alert.id)
    if not await work.tx.resolve_alert(alert.id, by.id, work.now, outcome):
        return work.texts.render(lang, "already_resolved", alert=alert.id)
    await work.tx.cancel_timers(alert.id, (TIMER_STEP,))
    await work.tx.audit(work.now, "alert.resolved", f"alert:{alert.id}", by.id, outcome)
    log.info("alert %s resolved by person %s", alert.id, by.id)
    await refresh_copies(work, alert.id)
    return work.texts.render(
        lang, "resolved", alert=alert.id, outcome=outcome_label(work, lang, outcome)
    )


async def send_outcome_menu(work: Work, alert: Alert, by: Person, resident: Person) -> None:
    lang = by.language
    buttons = tuple(
        (
            Button(
                outcome_label(work, lang, outcome),
                work.signer.token(ActionKind.ALERT_OUTCOME, alert.id, by.id, outcome),
                OUTCOME_EMOJI[outcome],
            ),
        )
        for outcome in OUTCOMES
    )
    await to_person(
        work,
        by,
        work.texts.render(lang, "choose_outcome", alert=alert.id, name=resident.name),
        priority=Priority.ALERT,
        buttons=buttons,
        purpose="outcome_menu",
        ref=alert.id,
    )


async def call_off_silence_alert(work: Work, resident: Person) -> Alert | None:
    """A late answer: the resident is all right. Close the alert that silence (or an
    undeliverable prompt) opened and tell everyone who was notified to stand down.
    Returns the alert called off, if there was one."""
    alert = await work.tx.unresolved_alert_of(resident.id)
    if alert is None or alert.reason is AlertReason.HELP:
        return None
    if not await work.tx.resolve_alert(alert.id, None, work.now, LATE_ANSWER):
        return None
    await work.tx.cancel_timers(alert.id, (TIMER_STEP,))
    await work.tx.audit(work.now, "alert.stand_down", f"alert:{alert.id}", resident.id)
    log.info("alert %s called off: person %s answered late", alert.id, resident.id)
    await refresh_copies(work, alert.id)
    for person, _ in await _notified_people(work, alert):
        await to_person(
            work,
            person,
            work.texts.render(
                person.language,
                "alert_footer_stand_down",
                name=resident.name,
                time=hm(work.now, resident.timezone),
            )
            + f" (#{alert.id})",
            priority=Priority.ALERT,
        )

    return alert


async def list_open(work: Work, person: Person) -> str:
    lang = person.language
    alerts = await work.tx.unresolved_alerts(None if person.grid == "" else person.grid)
    lines = []
    for alert in alerts:
        resident = await work.tx.person(alert.person_id)
        if resident is None or not may_act(alert, resident, person):
            continue
        if alert.state is AlertState.ACKNOWLEDGED:
            state = work.texts.render(
                lang, "state_acknowledged", who=await _name(work, alert.acked_by)
            )
        else:
            state = work.texts.render(lang, "state_open")
        lines.append(
            work.texts.render(
                lang,
                "alerts_line",
                alert=alert.id,
                name=resident.name,
                place=resident.place or "-",
                reason=work.texts.render(lang, f"reason_{alert.reason.value}"),
                state=state,
            )
        )
    if not lines:
        return work.texts.render(lang, "alerts_none")
    return "\n".join([work.texts.render(lang, "alerts_header"), *lines])
