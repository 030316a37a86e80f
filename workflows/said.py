"""What a resident's message means, and what follows from it.

Every message is kept in the resident's history with its classification (see
`workflows.intent`) and counts as a sign of life. Then:

- urgent ("救命", "I fell", 🆘) opens an urgent alert at once;
- concern ("有点头晕", "药吃完了") asks back — "shall someone come?" with two buttons —
  and opens a normal alert quoting what was said when nobody answers within
  `concern_window`: confirm before you alarm, but never drop it;
- fine and other answer the open check-in, or are acknowledged (at most once an hour,
  so the chat does not fill up with thank-yous).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from core.commands import Button, Priority
from core.enums import Purpose, TimerKind
from core.events import ButtonPressed, MessageReceived
from core.records import AlertReason, Person, Timer
from workflows import checkin, escalation
from workflows.actions import ActionKind, ActionToken
from workflows.context import Work
from workflows.intent import Intent, classify_remembered
from workflows.messaging import edit, to_person
from workflows.routes import Routes, feedback, refuse
from workflows.texts.replies import means_no, means_yes
from workflows.timefmt import hm

log = logging.getLogger(__name__)

TIMER_CONCERN = TimerKind.CONCERN
PURPOSE_CONCERN = Purpose.CONCERN
YES_EMOJI = "🆘"
NO_EMOJI = "🙂"
# A sign of life outside a round is acknowledged at most this often.
ACK_EVERY = timedelta(hours=1)


async def on_resident_message(work: Work, person: Person, event: MessageReceived) -> None:
    text = event.text.strip()
    intent = classify_remembered(text, work.help_words) if text else Intent.OTHER
    if text == "2" and await work.tx.open_checkin_of(person.id) is not None:
        intent = Intent.URGENT  # the prompt's second choice, typed
    message_id = await work.tx.add_message(person.id, work.now, event.kind.value, text, intent)
    said = text or event.kind.value

    pending = await work.tx.pending_concern(person.id)
    if pending is not None:
        if intent is Intent.URGENT or means_yes(text):
            await concern_confirmed(work, person, pending)
            return
        if intent is Intent.FINE or means_no(text):
            await concern_dismissed(work, person, pending)
            return

    match intent:
        case Intent.URGENT:
            await checkin.record_answer(
                work, person, help_wanted=True, said=said, via=event.kind.value
            )
        case Intent.CONCERN:
            await checkin.record_answer(
                work, person, help_wanted=False, said=said, via=event.kind.value, quiet=True
            )
            await _ask(work, person, message_id, said)
        case _:
            if not await checkin.record_answer(
                work, person, help_wanted=False, said=said, via=event.kind.value
            ):
                await acknowledge(work, person)


async def acknowledge(work: Work, person: Person) -> None:
    """A short "got it" for a message outside any round, at most once an hour."""
    key = f"noted:{person.id}"
    last = await work.tx.kv_get(key)
    if last is not None and work.now - datetime.fromisoformat(last) < ACK_EVERY:
        return
    await work.tx.kv_set(key, work.now.isoformat())
    await to_person(
        work, person, work.texts.render(person.language, "noted"), priority=Priority.REPLY
    )


async def _ask(work: Work, person: Person, message_id: int, said: str) -> None:
    """Ask whether someone should come, unless an alert is already open for them:
    then what they said goes onto it for the responders to read."""
    if await work.tx.unresolved_alert_of(person.id) is not None:
        await escalation.open_alert(work, person, AlertReason.CONCERN, checkin_id=None, said=said)
        return
    lang = person.language
    buttons = (
        (
            Button(
                work.texts.render(lang, "btn_concern_yes"),
                work.signer.token(ActionKind.CONCERN_YES, message_id, person.id),
                YES_EMOJI,
            ),
            Button(
                work.texts.render(lang, "btn_concern_no"),
                work.signer.token(ActionKind.CONCERN_NO, message_id, person.id),
                NO_EMOJI,
            ),
        ),
    )
    await to_person(
        work,
        person,
        work.texts.render(lang, "concern_question", name=person.name),
        priority=Priority.ALERT,
        buttons=buttons,
        purpose=PURPOSE_CONCERN,
        ref=message_id,
    )
    await work.tx.add_timer(
        work.now + work.config.concern_window, TIMER_CONCERN, message_id, "", work.now
    )
    work.timers_added = True
    await work.tx.audit(work.now, "concern.asked", f"person:{person.id}", person.id, said)
    log.info("person %s said something worrying; asked whether someone should come", person.id)


async def _settle(work: Work, person: Person, message_id: int) -> str | None:
    """Take the question off the table (once); returns what was said, or None when it
    was already answered or timed out."""
    if not await work.tx.cancel_timers(message_id, (TIMER_CONCERN,)):
        return None
    said = await work.tx.message(message_id)
    for row in await work.tx.outbox_for(PURPOSE_CONCERN, message_id):
        question = work.texts.render(person.language, "concern_question", name=person.name)
        answered = work.texts.render(
            person.language, "concern_answered", time=hm(work.now, person.timezone)
        )
        await edit(work, row, f"{question}\n{answered}")
    return "" if said is None else said.text or said.kind


async def concern_confirmed(work: Work, person: Person, message_id: int) -> bool:
    said = await _settle(work, person, message_id)
    if said is None:
        return False
    await work.tx.audit(work.now, "concern.confirmed", f"person:{person.id}", person.id, said)
    await escalation.open_alert(work, person, AlertReason.HELP, checkin_id=None, said=said)
    return True


async def concern_dismissed(work: Work, person: Person, message_id: int) -> bool:
    said = await _settle(work, person, message_id)
    if said is None:
        return False
    await work.tx.audit(work.now, "concern.dismissed", f"person:{person.id}", person.id, said)
    await to_person(
        work,
        person,
        work.texts.render(person.language, "concern_dismissed"),
        priority=Priority.REPLY,
    )
    return True


async def on_concern_due(work: Work, message_id: int) -> None:
    """Nobody answered the question: a normal alert to the grid leader, quoting it."""
    said = await work.tx.message(message_id)
    person = None if said is None else await work.tx.person(said.person_id)
    if said is None or person is None:
        return
    for row in await work.tx.outbox_for(PURPOSE_CONCERN, message_id):
        await edit(
            work, row, work.texts.render(person.language, "concern_question", name=person.name)
        )
    await work.tx.audit(work.now, "concern.unanswered", f"person:{person.id}", person.id)
    await escalation.open_alert(
        work, person, AlertReason.CONCERN, checkin_id=None, said=said.text or said.kind
    )
    await to_person(
        work,
        person,
        work.texts.render(person.language, "concern_escalated"),
        priority=Priority.REPLY,
    )


routes = Routes()


@routes.button(ActionKind.CONCERN_YES, ActionKind.CONCERN_NO)
async def _concern_pressed(
    work: Work, person: Person, event: ButtonPressed, action: ActionToken
) -> None:
    if action.issued_to != person.id:
        await refuse(work, event, person)
        return
    yes = action.kind is ActionKind.CONCERN_YES
    if yes:
        done = await concern_confirmed(work, person, action.ref)
    else:
        done = await concern_dismissed(work, person, action.ref)
    lang = person.language
    text = work.texts.render(
        lang, "recorded_help" if yes else "recorded_ok", time=hm(work.now, person.timezone)
    )
    await feedback(work, event, person, text if done else work.texts.render(lang, "stale_button"))


@routes.timer(TIMER_CONCERN)
async def _concern_due(work: Work, timer: Timer) -> None:
    await on_concern_due(work, timer.ref)
