"""Alerts: open, walk the escalation policy on durable timers, acknowledge, resolve.

A walk notifies the responders of one step, waits, and moves on: grid leader, care
lead, family, and again `repeat` more times, until someone acknowledges. A step whose
people cannot be reached (nobody in the role, nobody enrolled on a running platform,
every copy refused by the platform) is passed on at once rather than waited out, and
the alert says so.

Nothing is silent twice: a new miss while an alert is still unresolved walks that
alert again from its first step ("missed 2 rounds in a row"), and an alert that ran
out of steps is sent again to the grid leader and the grid's operators at each
following round until someone closes it. Each person holds one live copy of an alert:
a newer copy takes the buttons away from the older ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from core.commands import Button, Priority
from core.config import EscalationPolicy
from core.enums import OutboxState, Purpose, Role, TimerKind
from core.events import ButtonPressed, MessageReceived
from core.ids import AlertId, ChatRef, CheckinId, PersonId
from core.outbox import OutboxRow
from core.records import Alert, AlertReason, AlertState, Checkin, Notification, Person, Timer
from workflows import cover, privacy
from workflows.actions import ActionKind, ActionToken
from workflows.context import Work
from workflows.messaging import answer_press, cancel_unsent, edit, edit_or_replace, to_person
from workflows.routes import Audience, Routes, feedback, refuse, reply, reply_text
from workflows.timefmt import day_hm, hm

log = logging.getLogger(__name__)

PURPOSE_ALERT = Purpose.ALERT
TIMER_STEP = TimerKind.ESCALATE

OUTCOMES = ("ok", "visited", "hospital", "unreachable")
OUTCOME_EMOJI = {"ok": "🙂", "visited": "🚪", "hospital": "🏥", "unreachable": "❓"}
ACK_EMOJI = "👀"
RESOLVE_EMOJI = "✅"
LATE_ANSWER = "late_answer"
# Outcomes of an alert stood down because someone vouched for the resident.
CALLED = "called"
VISITED = "visited"
AWAY = "away"
# Misses counted in an alert's "how often lately" line.
RECENT = timedelta(days=7)
# Silence-like reasons: a new one on top of an unresolved alert is a repeated miss.
_SILENCE = (AlertReason.MISSED, AlertReason.UNREACHABLE)


def outcome_label(work: Work, language: str, outcome: str) -> str:
    if outcome in (*OUTCOMES, LATE_ANSWER, CALLED, AWAY):
        return work.texts.render(language, f"outcome_{outcome}")
    return outcome


def policy_name(work: Work, resident: Person) -> str:
    plan = work.config.plans.get(resident.plan)
    return plan.escalation if plan else next(iter(work.config.escalation_policies))


def total_steps(policy: EscalationPolicy) -> int:
    return len(policy.steps) * (policy.repeat + 1)


async def open_alert(
    work: Work,
    resident: Person,
    reason: AlertReason,
    *,
    checkin_id: CheckinId | None,
    said: str = "",
) -> AlertId:
    """Open an alert, or add to the one already open for this resident.

    On top of an unresolved alert: a new miss walks it again from step 1; a call for
    help makes it urgent and walks it again; anything else is a note on it."""
    existing = await work.tx.unresolved_alert_of(resident.id)
    if existing is not None:
        await _add_to_existing(work, existing, resident, reason, checkin_id, said)
        return existing.id

    urgent = reason is AlertReason.HELP
    repeated = reason in _SILENCE and checkin_id is not None
    alert_id = await work.tx.create_alert(
        resident.id,
        checkin_id,
        reason,
        urgent,
        policy_name(work, resident),
        work.now,
        said,
        misses=1 if repeated else 0,
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
        await _tell_resident_help_is_sought(work, alert, resident)
    return alert_id


async def _add_to_existing(
    work: Work,
    alert: Alert,
    resident: Person,
    reason: AlertReason,
    checkin_id: CheckinId | None,
    said: str,
) -> None:
    subject = f"alert:{alert.id}"
    if reason in _SILENCE and checkin_id is not None and checkin_id != alert.checkin_id:
        misses = alert.misses + 1 if alert.misses else 1
        await work.tx.reescalate_alert(alert.id, checkin_id, misses)
        await work.tx.audit(work.now, "alert.missed_again", subject, None, str(misses))
        log.info("alert %s: person %s missed %d rounds in a row", alert.id, resident.id, misses)
        await _walk_again(work, alert.id)
        return
    if reason is AlertReason.HELP and not alert.urgent:
        await work.tx.mark_urgent(alert.id)
        await work.tx.audit(work.now, "alert.urgent", subject, resident.id, said)
        if said:
            await work.tx.add_alert_note(alert.id, resident.id, work.now, said)
        await work.tx.reescalate_alert(alert.id, None, alert.misses)
        await _walk_again(work, alert.id)
        refreshed = await work.tx.alert(alert.id)
        assert refreshed is not None
        await _tell_resident_help_is_sought(work, refreshed, resident)
        return
    # Already urgent, or something worrying said meanwhile: every copy shows it.
    if said:
        await work.tx.add_alert_note(alert.id, resident.id, work.now, said)
        await work.tx.audit(work.now, "alert.note", subject, resident.id, said)
        await refresh_copies(work, alert.id)


async def _walk_again(work: Work, alert_id: AlertId) -> None:
    await work.tx.cancel_timers(alert_id, (TIMER_STEP,))
    alert = await work.tx.alert(alert_id)
    assert alert is not None
    # People not on the first step still see the new state on their copies.
    await refresh_copies(work, alert_id)
    await walk(work, alert)


async def _tell_resident_help_is_sought(work: Work, alert: Alert, resident: Person) -> None:
    """Only what is true: who is being contacted, not that they have been."""
    notified = [p for p, _ in await _live_copies(work, alert) if p.id != resident.id]
    if notified:
        text = work.texts.render(
            resident.language, "help_contacting", who=", ".join(p.name for p in notified[:2])
        )
    else:
        text = work.texts.render(resident.language, "help_contacting_community")
    await to_person(work, resident, text, priority=Priority.ALERT)


async def recipients(work: Work, resident: Person, role: Role) -> list[Person]:
    """The people of a step, with whoever is away replaced by who covers for them; a
    family contact or volunteer only once they said yes (one never asked is asked now)."""
    people, _ = await _recipients(work, resident, role)
    return people


async def _recipients(
    work: Work, resident: Person, role: Role
) -> tuple[list[Person], list[tuple[Person, list[Person]]]]:
    if role is Role.FAMILY:
        people = await work.tx.family_of(resident.id)
    else:
        people = await work.tx.responders(resident.grid, role.value)
    people, covering = await cover.covered(work, people, resident.grid)
    return await privacy.consenting(work, people), covering


async def reachable(work: Work, person: Person) -> bool:
    """Enrolled on a platform this gateway runs."""
    return any(work.reachable(i.platform) for i in await work.tx.identities_of(person.id))


async def walk(work: Work, alert: Alert) -> None:
    """Notify the next step with somebody reachable in it, then set the timer for the
    one after. Steps with nobody reachable are passed on at once, and noted."""
    policy = work.config.escalation_policies.get(alert.policy)
    resident = await work.tx.person(alert.person_id)
    if policy is None or resident is None:
        log.error("alert %s cannot walk: policy %r or resident missing", alert.id, alert.policy)
        return
    total = total_steps(policy)
    position = alert.position
    while position < total:
        step = policy.steps[position % len(policy.steps)]
        people, covering = await _recipients(work, resident, step.notify)
        position += 1
        live = [p for p in people if await reachable(work, p)]
        if covering:
            # Every copy says so (once): the deputy knows why it is theirs, and the next
            # step why the one before was passed over.
            noted = {n.text for n in await work.tx.alert_notes(alert.id)}
            for away, deputies in covering:
                note = f"cover|{away.name}|{', '.join(d.name for d in deputies)}"
                if note not in noted:
                    await work.tx.add_alert_note(alert.id, None, work.now, note)
        if not live:
            await _note_step_skipped(work, alert, resident, step.notify, people, position)
            continue
        for person in live:
            await _send_copy(work, alert, resident, person, position, step.notify.value)
        await work.tx.advance_alert(alert.id, position)
        await work.tx.audit(
            work.now,
            "alert.notified",
            f"alert:{alert.id}",
            None,
            f"step {position}: {step.notify.value} ({', '.join(p.name for p in live)})",
        )
        log.info(
            "alert %s step %d: %d %s notified", alert.id, position, len(live), step.notify.value
        )
        wait = step.wait or policy.default_wait
        await work.tx.add_timer(work.now + wait, TIMER_STEP, alert.id, str(position), work.now)
        work.timers_added = True
        return
    await work.tx.advance_alert(alert.id, position)
    await _exhausted(work, alert, resident)


async def _note_step_skipped(
    work: Work,
    alert: Alert,
    resident: Person,
    role: Role,
    people: list[Person],
    position: int,
) -> None:
    names = ", ".join(p.name for p in people)
    await work.tx.audit(
        work.now,
        "alert.step_unreachable" if people else "alert.step_empty",
        f"alert:{alert.id}",
        None,
        f"step {position}: {role.value} ({names})" if people else f"step {position}: {role.value}",
    )
    if people:
        # Shown on every copy: the next person knows the one before never got it.
        await work.tx.add_alert_note(
            alert.id, None, work.now, f"step_unreachable|{role.value}|{names}"
        )
        log.warning("alert %s step %d: no %s can be reached", alert.id, position, role.value)


async def _exhausted(work: Work, alert: Alert, resident: Person) -> None:
    """Every step has been tried: say so to operators and everyone notified. The
    alert stays open on the dashboard and is sent again at each following round."""
    await work.tx.audit(work.now, "alert.exhausted", f"alert:{alert.id}")
    told = {p.id: p for p, _ in await _live_copies(work, alert)}
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


async def remind_unresolved(work: Work, residents: set[PersonId]) -> int:
    """At a round's time: every alert of these residents that ran out of steps and is
    still unresolved goes again to the grid leader and the grid's operators."""
    sent = 0
    for alert in await work.tx.unresolved_alerts():
        if alert.person_id not in residents:
            continue
        policy = work.config.escalation_policies.get(alert.policy)
        if policy is None or alert.position < total_steps(policy):
            continue
        resident = await work.tx.person(alert.person_id)
        if resident is None:
            continue
        people, _ = await cover.covered(
            work,
            [
                *await work.tx.responders(resident.grid, Role.GRID_LEADER.value),
                *await work.tx.responders(resident.grid, Role.OPERATOR.value),
            ],
            resident.grid,
        )
        for person in {p.id: p for p in people}.values():
            if await reachable(work, person):
                await _send_copy(work, alert, resident, person, alert.position, "unresolved")
                sent += 1
        await work.tx.audit(work.now, "alert.still_unresolved", f"alert:{alert.id}")
    return sent


async def on_step_due(work: Work, alert_id: int) -> None:
    alert = await work.tx.alert(alert_id)
    if alert is None or alert.state is not AlertState.OPEN:
        return
    await walk(work, alert)


async def on_copy_undeliverable(work: Work, row: OutboxRow, error: str) -> None:
    """A copy was refused for good (blocked bot, unknown chat). When no copy of the
    current step can still arrive, the step is passed on now, not after its wait."""
    alert = await work.tx.alert(row.ref)
    if alert is None or alert.state is not AlertState.OPEN:
        return
    copies = [n for n in await work.tx.notifications(alert.id) if n.step == alert.position]
    if not copies or row.id not in {n.outbox_id for n in copies}:
        return
    for copy in copies:
        other = await work.tx.outbox_row(copy.outbox_id)
        if other is not None and other.state in (OutboxState.PENDING, OutboxState.SENT):
            return
    resident = await work.tx.person(alert.person_id)
    if resident is None:
        return
    names = []
    for copy in copies:
        person = None if copy.person_id is None else await work.tx.person(copy.person_id)
        if person is not None and person.name not in names:
            names.append(person.name)
    await work.tx.audit(
        work.now,
        "alert.step_unreachable",
        f"alert:{alert.id}",
        None,
        f"step {alert.position}: {copies[0].role} ({', '.join(names)}): {error}",
    )
    await work.tx.add_alert_note(
        alert.id, None, work.now, f"step_unreachable|{copies[0].role}|{', '.join(names)}"
    )
    await work.tx.cancel_timers(alert.id, (TIMER_STEP,))
    await walk(work, alert)


async def on_copy_delivered(work: Work, row: OutboxRow) -> None:
    """The first copy of a call for help that reached someone: now the resident may be
    told that this person has it (until then they heard only "contacting…")."""
    alert = await work.tx.alert(row.ref)
    if alert is None or not alert.urgent or alert.state is AlertState.RESOLVED:
        return
    key = f"alert.help_told:{alert.id}"
    if row.person_id is None or await work.tx.kv_get(key) is not None:
        return
    resident = await work.tx.person(alert.person_id)
    who = await work.tx.person(row.person_id)
    if resident is None or who is None:
        return
    await work.tx.kv_set(key, str(who.id))
    await to_person(
        work,
        resident,
        work.texts.render(resident.language, "help_delivered", who=who.name),
        priority=Priority.ALERT,
    )


# -- what a copy says -----------------------------------------------------------------


async def _alert_body(work: Work, alert: Alert, resident: Person, language: str) -> str:
    checkin = None if alert.checkin_id is None else await work.tx.checkin(alert.checkin_id)
    notes = [
        await _note_line(work, note.person_id, note.text, language, resident)
        for note in await work.tx.alert_notes(alert.id)
    ]
    return alert_body(
        work, alert, resident, language, checkin, await _details(work, resident, language), notes
    )


def alert_body(
    work: Work,
    alert: Alert,
    resident: Person,
    language: str,
    checkin: Checkin | None,
    details: str,
    notes: Sequence[str],
) -> str:
    """An alert's text above its footer, from what was read for it."""
    detail = detail_text(work, alert.detail, language) or "-"
    fields: dict[str, object] = {
        "alert": alert.id,
        "name": resident.name,
        "place": resident.place or "-",
        "phone": resident.phone or "-",
        "time": hm(alert.opened_at, resident.timezone),
        "said": detail,
        "reason": detail,
        "due": "-",
        "deadline": "-",
    }
    if checkin is not None:
        fields["due"] = day_hm(checkin.due_at, resident.timezone)
        fields["deadline"] = hm(checkin.deadline, resident.timezone)
    lines = [work.texts.render(language, f"alert_{alert.reason.value}", **fields)]
    if alert.urgent and alert.reason is not AlertReason.HELP:
        lines.insert(0, work.texts.render(language, "alert_now_urgent"))
    if alert.misses >= 2:
        lines.append(work.texts.render(language, "alert_misses_in_a_row", count=alert.misses))
    lines.append(details)
    lines.extend(notes)
    return "\n".join(lines)


# An alert's detail or a note written by carecheck itself, not by a person: a text key
# and its fields ("key|field=value|…"), shown in each reader's language.
MARK = "\x1e"


def marked(key: str, **fields: object) -> str:
    """A detail or note to be shown in each reader's language (see `detail_text`)."""
    return MARK + "|".join([key, *(f"{k}={str(v).replace('|', '/')}" for k, v in fields.items())])


def detail_text(work: Work, detail: str, language: str) -> str:
    return readable(detail, lambda key, **fields: work.texts.render(language, key, **fields))


def readable(detail: str, render: Callable[..., str]) -> str:
    """A detail or note as a reader sees it: marked ones rendered by `render(key,
    **fields)` in the reader's language, anything a person wrote as it is."""
    if not detail.startswith(MARK):
        return detail
    key, *parts = detail[1:].split("|")
    fields = dict(part.partition("=")[::2] for part in parts)
    return render(key, **fields)


async def _details(work: Work, resident: Person, language: str) -> str:
    return details_text(
        work,
        resident,
        language,
        await work.tx.family_of(resident.id),
        await work.tx.last_heard(resident.id),
        await work.tx.misses_since(resident.id, work.now - RECENT),
    )


def details_text(
    work: Work,
    resident: Person,
    language: str,
    family: Sequence[Person],
    heard: datetime | None,
    missed: int,
) -> str:
    """What the person who goes needs without looking anything up."""
    contacts = privacy.family_text(work, family, language)
    last = (
        work.texts.render(language, "never")
        if heard is None
        else work.texts.render(
            language,
            "last_heard_at",
            time=day_hm(heard, resident.timezone),
            ago=ago(work, language, work.now - heard),
        )
    )
    return work.texts.render(
        language,
        "alert_details",
        address=resident.address or "-",
        phone=resident.phone or "-",
        family=contacts or "-",
        last_heard=last,
        missed=missed,
    )


def ago(work: Work, language: str, delta: timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return work.texts.render(language, "minutes_ago", n=minutes)
    if minutes < 48 * 60:
        return work.texts.render(language, "hours_ago", n=minutes // 60)
    return work.texts.render(language, "days_ago", n=minutes // (24 * 60))


async def _note_line(
    work: Work, author: PersonId | None, text: str, language: str, resident: Person
) -> str:
    if author is None and text.startswith(MARK):
        return detail_text(work, text, language)
    if author is None and text.startswith("cover|"):
        _, away, deputies = text.split("|", 2)
        if not deputies:
            return work.texts.render(language, "alert_away_uncovered", away=away)
        return work.texts.render(language, "alert_covered", away=away, deputies=deputies)
    if author is None and text.startswith("step_unreachable|"):
        _, role, names = text.split("|", 2)
        return work.texts.render(
            language,
            "alert_step_unreachable",
            role=work.texts.render(language, f"role_{role}"),
            names=names,
        )
    who = await _name(work, author)
    if author == resident.id:
        return work.texts.render(language, "alert_resident_said", name=who, text=text)
    return work.texts.render(language, "alert_note", who=who, text=text)


def alert_buttons(work: Work, alert: Alert, person: Person) -> tuple[tuple[Button, ...], ...]:
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


async def _footer(
    work: Work, alert: Alert, resident: Person, language: str, *, group: bool = False
) -> str:
    if alert.state is AlertState.OPEN:
        return work.texts.render(language, "alert_footer_open")
    if alert.outcome == LATE_ANSWER and alert.resolved_at is not None:
        return work.texts.render(
            language,
            "alert_footer_stand_down",
            name=privacy.first_name(resident.name) if group else resident.name,
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


async def alert_text(
    work: Work, alert: Alert, resident: Person, language: str, *, group: bool = False
) -> str:
    """An alert as its copies show it. Posted to a group (a grid's channel), it names the
    resident by first name and building, and what happened, only: no address, phone,
    family, or what they said (need to know)."""
    if group:
        body = privacy.for_group(
            work,
            language,
            "alert_posted_group",
            resident,
            alert=alert.id,
            reason=work.texts.render(language, f"reason_{alert.reason.value}"),
            urgent="🆘 " if alert.urgent else "⚠️ ",
        )
        return body + "\n" + await _footer(work, alert, resident, language, group=True)
    body = await _alert_body(work, alert, resident, language)
    return body + "\n" + await _footer(work, alert, resident, language)


def new_alert_text(
    work: Work, alert: Alert, resident: Person, language: str, checkin: Checkin, details: str
) -> str:
    """`alert_text` of an alert just opened for a missed check-in (open, no notes yet),
    from what was read for it."""
    assert alert.state is AlertState.OPEN
    body = alert_body(work, alert, resident, language, checkin, details, ())
    return body + "\n" + work.texts.render(language, "alert_footer_open")


# -- copies -----------------------------------------------------------------------


async def _send_copy(
    work: Work, alert: Alert, resident: Person, person: Person, step: int, role: str
) -> None:
    """Send the person a fresh copy; the copies they had lose their buttons."""
    for earlier in [
        c for p, copies in await _live_copies(work, alert) if p.id == person.id for c in copies
    ]:
        await _supersede(work, alert, person, earlier)
    for outbox_id in await to_person(
        work,
        person,
        await alert_text(work, alert, resident, person.language),
        priority=Priority.ALERT,
        buttons=alert_buttons(work, alert, person),
        purpose=PURPOSE_ALERT,
        ref=alert.id,
    ):
        await work.tx.add_notification(alert.id, person.id, outbox_id, step, role, work.now)


async def _supersede(work: Work, alert: Alert, person: Person, copy: Notification) -> None:
    row = await work.tx.outbox_row(copy.outbox_id)
    if row is None or row.state == OutboxState.FAILED:
        return
    if await cancel_unsent(work, row):
        return  # never shown: nothing to take back
    await edit(
        work,
        row,
        work.texts.render(person.language, "alert_superseded", alert=alert.id),
        priority=Priority.ALERT,
    )


async def _live_copies(work: Work, alert: Alert) -> list[tuple[Person, list[Notification]]]:
    """Per person, the copies of their latest notification (one per chat they use)."""
    latest: dict[PersonId, list[Notification]] = {}
    for copy in await work.tx.notifications(alert.id):
        if copy.person_id is None:
            continue
        batch = latest.get(copy.person_id)
        if batch and (batch[0].at, batch[0].step) == (copy.at, copy.step):
            batch.append(copy)
        else:
            latest[copy.person_id] = [copy]
    result = []
    for person_id, copies in latest.items():
        person = await work.tx.person(person_id)
        if person is not None:
            result.append((person, copies))
    return result


async def refresh_copies(work: Work, alert_id: AlertId) -> None:
    """Edit every live copy so each responder sees who did what, and when."""
    alert = await work.tx.alert(alert_id)
    if alert is None:
        return
    resident = await work.tx.person(alert.person_id)
    if resident is None:
        return
    # The text depends on the reader's language only: made once per language.
    texts: dict[str, str] = {}
    for person, copies in await _live_copies(work, alert):
        text = texts.get(person.language)
        if text is None:
            text = texts[person.language] = await alert_text(work, alert, resident, person.language)
        for copy in copies:
            row = await work.tx.outbox_row(copy.outbox_id)
            if row is None or row.state in (OutboxState.FAILED, OutboxState.CANCELLED):
                continue
            outbox_id, replaced = await edit_or_replace(
                work,
                row,
                text,
                buttons=alert_buttons(work, alert, person),
                priority=Priority.ALERT,
            )
            if outbox_id is not None and replaced:
                # The unsent copy was replaced by a new message: that one is live now.
                await work.tx.add_notification(
                    alert.id, person.id, outbox_id, copy.step, copy.role, copy.at
                )


# -- who may act, and acting ----------------------------------------------------------


def may_act(alert: Alert, resident: Person, person: Person) -> bool:
    """The one rule for acting on an alert: the resident's own family, and responders
    of the resident's grid (grid leaders, care leads and operators without a grid serve
    every grid). Team members handle needs; they act on alerts only of their own grid."""
    del alert  # the same rule for every alert of a resident
    return may_act_for(resident, person)


def may_act_for(resident: Person, person: Person) -> bool:
    """Who may act for a resident (their alerts, /visited, /away NAME): see `may_act`.
    A resident's own caller may too, wherever their grid."""
    match person.role:
        case Role.FAMILY:
            return person.family_of == resident.id
        case Role.GRID_LEADER | Role.CARE_LEAD | Role.OPERATOR:
            return person.grid in ("", resident.grid)
        case Role.TEAM_MEMBER | Role.CALLER:
            return resident.caller == person.id or (
                person.grid != "" and person.grid == resident.grid
            )
        case _:
            return False


async def acknowledge(work: Work, alert: Alert, by: Person, *, from_group: bool = False) -> str:
    """Returns the text to show the person who acted. Taken from a group chat, the
    resident's address and phone go to them privately (and are removed on resolve)."""
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
    # Someone sent a copy of their own already has the details.
    if from_group and all(n.person_id != by.id for n in await work.tx.notifications(alert.id)):
        resident = await work.tx.person(alert.person_id)
        if resident is not None:
            await privacy.reveal(
                work,
                by,
                resident,
                purpose=Purpose.REVEAL_ALERT,
                ref=alert.id,
                why=f"acknowledged alert #{alert.id} from a group chat",
            )
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
    await _conceal(work, alert)
    return work.texts.render(
        lang, "resolved", alert=alert.id, outcome=outcome_label(work, lang, outcome)
    )


async def _conceal(work: Work, alert: Alert) -> None:
    resident = await work.tx.person(alert.person_id)
    if resident is not None:
        await privacy.conceal(work, Purpose.REVEAL_ALERT, alert.id, resident)


async def in_group(work: Work, person: Person, chat: ChatRef) -> bool:
    """Whether `chat` is not one of the person's own chats (a team's group, say)."""
    return all(i.chat != chat for i in await work.tx.identities_of(person.id))


async def add_note(work: Work, alert: Alert, by: Person, text: str) -> str:
    """A responder's words on an alert (a reply to its message): shown on every copy."""
    await work.tx.add_alert_note(alert.id, by.id, work.now, text)
    await work.tx.audit(work.now, "alert.note", f"alert:{alert.id}", by.id, text)
    await refresh_copies(work, alert.id)
    return work.texts.render(by.language, "note_added", alert=alert.id)


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
        purpose=Purpose.OUTCOME_MENU,
        ref=alert.id,
    )


def silence_alert(alert: Alert) -> bool:
    """Whether a sign of life calls this (unresolved) alert off: silence or an
    undeliverable prompt opened it, and nobody has since asked for help on it."""
    return alert.reason in _SILENCE and not alert.urgent


async def call_off_silence_alert(
    work: Work, resident: Person, *, by: Person | None = None, outcome: str = LATE_ANSWER
) -> Alert | None:
    """A late answer: the resident is all right. Close the alert that silence (or an
    undeliverable prompt) opened and tell everyone who was notified to stand down.
    With `by`, someone else vouched for them (a call, a visit, "she is in hospital"),
    and `outcome` says how. Returns the alert called off, if there was one."""
    alert = await work.tx.unresolved_alert_of(resident.id)
    if alert is None or not silence_alert(alert):
        return None
    if not await work.tx.resolve_alert(alert.id, None if by is None else by.id, work.now, outcome):
        return None
    await work.tx.cancel_timers(alert.id, (TIMER_STEP,))
    await work.tx.audit(work.now, "alert.stand_down", f"alert:{alert.id}", resident.id)
    log.info("alert %s called off: person %s answered late", alert.id, resident.id)
    await refresh_copies(work, alert.id)
    await _conceal(work, alert)
    for person, _ in await _live_copies(work, alert):
        if outcome == LATE_ANSWER:
            text = work.texts.render(
                person.language,
                "alert_footer_stand_down",
                name=resident.name,
                time=hm(work.now, resident.timezone),
            )
        else:
            text = work.texts.render(
                person.language,
                "alert_stand_down_vouched",
                name=resident.name,
                who=by.name if by else work.texts.render(person.language, "by_operator"),
                how=outcome_label(work, person.language, outcome),
                time=hm(work.now, resident.timezone),
            )
        await to_person(work, person, text + f" (#{alert.id})", priority=Priority.ALERT)
    return alert


async def alert_of_message(work: Work, platform: str, chat: str, message_id: str) -> Alert | None:
    """The alert a chat message (one of its copies) belongs to."""
    found = await work.tx.replied_outbox_id(platform, chat, message_id)
    row = None if found is None else await work.tx.outbox_row(found)
    while row is not None and row.purpose == Purpose.EDIT and row.edit_of is not None:
        row = await work.tx.outbox_row(row.edit_of)
    if row is not None and row.purpose == Purpose.CALL:
        # A reply to a call task: a note on the alert that call opened.
        checkin = await work.tx.checkin(row.ref)
        if checkin is None:
            return None
        return await work.tx.unresolved_alert_of(checkin.person_id)
    if row is None or row.purpose != PURPOSE_ALERT:
        return None
    return await work.tx.alert(row.ref)


async def list_open(work: Work, person: Person, *, group: bool = False) -> str:
    """The open alerts this person may act on; in a group chat by first name and
    building only."""
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
        reason = work.texts.render(lang, f"reason_{alert.reason.value}")
        if group:
            line = privacy.for_group(
                work,
                lang,
                "alerts_line_group",
                resident,
                alert=alert.id,
                reason=reason,
                state=state,
            )
        else:
            line = work.texts.render(
                lang,
                "alerts_line",
                alert=alert.id,
                name=resident.name,
                place=resident.place or "-",
                reason=reason,
                state=state,
            )
        lines.append(line)
    if not lines:
        return work.texts.render(lang, "alerts_none")
    return "\n".join([work.texts.render(lang, "alerts_header"), *lines])


routes = Routes()


async def _alert_arg(
    work: Work, event: MessageReceived, person: Person, args: list[str], usage: str
) -> Alert | None:
    if not args or not args[0].lstrip("#").isdigit():
        await reply(work, event, person, usage)
        return None
    alert_id = int(args[0].lstrip("#"))
    alert = await work.tx.alert(alert_id)
    resident = None if alert is None else await work.tx.person(alert.person_id)
    if alert is None or resident is None:
        await reply(work, event, person, "unknown_alert", alert=alert_id)
        return None
    if not may_act(alert, resident, person):
        await reply(work, event, person, "not_allowed")
        return None
    return alert


@routes.command("alerts", audience=Audience.RESPONDERS)
async def _alerts_command(
    work: Work, person: Person, event: MessageReceived, args: list[str]
) -> None:
    group = event.is_group or await in_group(work, person, event.chat)
    await reply_text(work, event, person, await list_open(work, person, group=group))


@routes.command("ack", audience=Audience.RESPONDERS)
async def _ack_command(work: Work, person: Person, event: MessageReceived, args: list[str]) -> None:
    alert = await _alert_arg(work, event, person, args, "usage_ack")
    if alert is not None:
        group = event.is_group or await in_group(work, person, event.chat)
        await reply_text(
            work, event, person, await acknowledge(work, alert, person, from_group=group)
        )


@routes.command("resolve", audience=Audience.RESPONDERS)
async def _resolve_command(
    work: Work, person: Person, event: MessageReceived, args: list[str]
) -> None:
    if len(args) < 2:
        await reply(work, event, person, "usage_resolve")
        return
    alert = await _alert_arg(work, event, person, args[:1], "usage_resolve")
    if alert is not None:
        outcome = " ".join(args[1:])
        await reply_text(work, event, person, await resolve(work, alert, person, outcome))


@routes.button(ActionKind.ALERT_ACK, ActionKind.ALERT_RESOLVE_MENU, ActionKind.ALERT_OUTCOME)
async def _alert_pressed(
    work: Work, person: Person, event: ButtonPressed, action: ActionToken
) -> None:
    lang = person.language
    alert = await work.tx.alert(action.ref)
    resident = None if alert is None else await work.tx.person(alert.person_id)
    if alert is None or resident is None or not may_act(alert, resident, person):
        await refuse(work, event, person)
        return
    if action.kind is ActionKind.ALERT_ACK:
        group = await in_group(work, person, event.chat)
        text = await acknowledge(work, alert, person, from_group=group)
    elif action.kind is ActionKind.ALERT_OUTCOME:
        text = await resolve(work, alert, person, action.arg)
    elif alert.state is AlertState.RESOLVED:
        text = work.texts.render(lang, "already_resolved", alert=alert.id)
    else:
        await send_outcome_menu(work, alert, person, resident)
        text = work.texts.render(lang, "choose_outcome", alert=alert.id, name=resident.name)
        await answer_press(work, event.chat, event.callback_id, text)
        return
    await feedback(work, event, person, text)


@routes.timer(TIMER_STEP)
async def _step_due(work: Work, timer: Timer) -> None:
    await on_step_due(work, timer.ref)
