"""Time away: a resident in hospital or visiting family, a responder on leave.

`/away 5d 住院` (yourself), `/away 王秀英 5d 住院` (a responder of the resident's grid, or
their family), `/back` and `/back 王秀英`; `carecheck people away NAME --until DATE`.

While a resident is away no round asks them; their grid leaders are told when it
starts and ends, and they come back by themselves when the time is over, with a
welcome-back check-in (a call task for residents phoned). While a responder is away,
whoever covers for them (`workflows.cover`) gets their alerts, and both hear when the
cover starts and ends. The return is a durable timer: it happens if the gateway was
down at the time, as soon as it is up.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.commands import Priority
from core.config import Channel
from core.durations import parse_duration
from core.enums import Role, TimerKind
from core.events import MessageReceived
from core.records import (
    AWAY_ANSWER,
    OPEN_CHECKIN_STATES,
    Absence,
    CheckinState,
    Contact,
    Person,
    Timer,
)
from workflows import calls, checkin, cover, escalation
from workflows.context import Work
from workflows.messaging import to_person
from workflows.rounds import end_of_quiet
from workflows.routes import Routes, reply, reply_text
from workflows.timefmt import day_hm

log = logging.getLogger(__name__)

TIMER_AWAY_END = TimerKind.AWAY_END
# The arg of an AWAY_END timer that only sends the welcome back (held for quiet hours).
WELCOME = "welcome"
MAX_AWAY = timedelta(days=366)
MAX_REASON = 200

routes = Routes()


def parse_until(text: str, now: datetime, timezone: str) -> datetime:
    """`5d`, `12h`, a date (`2026-12-10`: back from the start of that day) or a date and
    time (`2026-12-10T18:00`), local to `timezone`. Raises ValueError."""
    text = text.strip()
    try:
        delta = parse_duration(text)
    except ValueError:
        delta = None
    if delta is not None:
        until = now + delta
    else:
        zone = ZoneInfo(timezone)
        try:
            if "T" in text or " " in text:
                moment = datetime.fromisoformat(text)
                until = moment if moment.tzinfo else moment.replace(tzinfo=zone)
            else:
                until = datetime.combine(date.fromisoformat(text), time(0), tzinfo=zone)
        except ValueError:
            raise ValueError(
                f"not a time away: {text!r} (write 5d, 12h, 2026-12-10 or 2026-12-10T18:00)"
            ) from None
    if until <= now:
        raise ValueError(f"{text!r} is not in the future")
    if until - now > MAX_AWAY:
        raise ValueError(f"{text!r} is more than a year away")
    return until.astimezone(now.tzinfo)


def _looks_like_until(word: str) -> bool:
    try:
        parse_duration(word)
        return True
    except ValueError:
        return len(word) >= 8 and word[:4].isdigit() and word[4:5] == "-"


async def go_away(
    work: Work, person: Person, until: datetime, reason: str, by: Person | None
) -> Absence:
    """`person` is away until `until` (an absence they are already in is replaced)."""
    current = await work.tx.current_absence(person.id, work.now)
    if current is not None:
        await work.tx.end_absence(current.id, work.now)
        await work.tx.cancel_timers(current.id, (TIMER_AWAY_END,))
    absence_id = await work.tx.add_absence(
        person.id, until, reason[:MAX_REASON], None if by is None else by.id, work.now
    )
    await work.tx.add_timer(until, TIMER_AWAY_END, absence_id, "", work.now)
    work.timers_added = True
    await work.tx.audit(
        work.now,
        "person.away",
        f"person:{person.id}",
        None if by is None else by.id,
        f"until {until.isoformat()}: {reason}",
    )
    absence = await work.tx.absence(absence_id)
    assert absence is not None
    if person.role == Role.RESIDENT:
        await _resident_away(work, person, absence, by)
    else:
        await _responder_away(work, person, absence, by)
    return absence


async def _resident_away(work: Work, resident: Person, absence: Absence, by: Person | None) -> None:
    # Nobody is left waiting on a check-in they cannot answer, and silence before it
    # is explained.
    for open_checkin in await work.tx.open_checkins_of(resident.id):
        if await work.tx.set_checkin_state(
            open_checkin.id, CheckinState.AWAY, only_if=OPEN_CHECKIN_STATES, answer=AWAY_ANSWER
        ):
            await work.tx.cancel_timers(
                open_checkin.id,
                (checkin.TIMER_REMIND, checkin.TIMER_CLOSE, TimerKind.CALL_RETRY),
            )
    if by is None or by.id != resident.id:
        await escalation.call_off_silence_alert(work, resident, by=by, outcome=escalation.AWAY)
        await to_person(
            work,
            resident,
            work.texts.render(
                resident.language,
                "away_paused_you",
                until=day_hm(absence.until, resident.timezone),
                who=_who(work, by, resident.language),
            ),
            priority=Priority.REPLY,
        )
    for leader in await escalation.recipients(work, resident, Role.GRID_LEADER):
        if by is not None and leader.id == by.id:
            continue
        await to_person(
            work,
            leader,
            work.texts.render(
                leader.language,
                "away_notice",
                name=resident.name,
                place=resident.place or "-",
                until=day_hm(absence.until, leader.timezone),
                reason=absence.reason or "-",
                who=_who(work, by, leader.language),
            ),
            priority=Priority.REPLY,
        )


def _who(work: Work, by: Person | None, language: str) -> str:
    # Without a person it was recorded on the server (`carecheck people away`).
    return by.name if by is not None else work.texts.render(language, "by_operator")


async def _responder_away(work: Work, person: Person, absence: Absence, by: Person | None) -> None:
    deputies = await cover.deputies(work, person, person.grid)
    until = day_hm(absence.until, person.timezone)
    names = ", ".join(d.name for d in deputies)
    if by is not None and by.id != person.id:
        await to_person(
            work,
            person,
            work.texts.render(
                person.language, "cover_starts_you", until=until, deputies=names or "-"
            ),
            priority=Priority.REPLY,
        )
    for deputy in deputies:
        await to_person(
            work,
            deputy,
            work.texts.render(
                deputy.language,
                "cover_starts",
                name=person.name,
                role=work.texts.render(deputy.language, f"role_{person.role}"),
                until=day_hm(absence.until, deputy.timezone),
                reason=absence.reason or "-",
            ),
            priority=Priority.REPLY,
        )


async def come_back(work: Work, absence: Absence, by: Person | None) -> bool:
    """The absence is over (early, by /back, or at its time): once."""
    if not await work.tx.end_absence(absence.id, work.now):
        return False
    await work.tx.cancel_timers(absence.id, (TIMER_AWAY_END,))
    person = await work.tx.person(absence.person_id)
    if person is None:
        return False
    await work.tx.audit(
        work.now, "person.back", f"person:{person.id}", None if by is None else by.id
    )
    if person.role == Role.RESIDENT:
        for leader in await escalation.recipients(work, person, Role.GRID_LEADER):
            if by is not None and leader.id == by.id:
                continue
            await to_person(
                work,
                leader,
                work.texts.render(
                    leader.language, "back_notice", name=person.name, place=person.place or "-"
                ),
                priority=Priority.REPLY,
            )
        if person.active:
            await _welcome_back(work, person, absence)
        return True
    for deputy in await cover.deputies(work, person, person.grid):
        await to_person(
            work,
            deputy,
            work.texts.render(deputy.language, "cover_ends", name=person.name),
            priority=Priority.REPLY,
        )
    if by is None or by.id != person.id:
        await to_person(
            work,
            person,
            work.texts.render(person.language, "cover_ends_you"),
            priority=Priority.REPLY,
        )
    return True


async def _welcome_back(work: Work, resident: Person, absence: Absence) -> None:
    """A check-in to say welcome back — after quiet hours, if it is night now."""
    plan = work.config.plans.get(resident.plan)
    if plan is not None and plan.quiet_hours is not None:
        after = end_of_quiet(work.now, plan.quiet_hours, resident.timezone)
        if after > work.now:
            await work.tx.add_timer(after, TIMER_AWAY_END, absence.id, WELCOME, work.now)
            work.timers_added = True
            return
    checkin_id = await checkin.open_one(work, resident, "checkin_welcome_back")
    if checkin_id is not None and (
        resident.contact == Contact.PHONE or (plan is not None and plan.channel is Channel.PHONE)
    ):
        await calls.send_tasks(work, [(resident, checkin_id)])


@routes.timer(TIMER_AWAY_END)
async def _away_over(work: Work, timer: Timer) -> None:
    absence = await work.tx.absence(timer.ref)
    if absence is None:
        return
    if timer.arg == WELCOME:
        resident = await work.tx.person(absence.person_id)
        away_again = resident is None or await cover.is_away(work, resident)
        if resident is not None and resident.active and not away_again:
            await _welcome_back(work, resident, absence)
        return
    await come_back(work, absence, None)


# -- commands ---------------------------------------------------------------------------


async def _target(
    work: Work, person: Person, event: MessageReceived, names: list[str]
) -> Person | None:
    """Whom a command is about: the sender, or the person named, if they may."""
    if not names:
        return person
    name = " ".join(names)
    other = await work.tx.person_by_name(name)
    if other is None:
        await reply(work, event, person, "unknown_person", name=name)
        return None
    if other.id == person.id:
        return person
    allowed = (
        escalation.may_act_for(other, person)
        if other.role == Role.RESIDENT
        else person.role in (Role.GRID_LEADER, Role.CARE_LEAD, Role.OPERATOR)
        and person.grid in ("", other.grid)
    )
    if not allowed:
        await reply(work, event, person, "not_yours", name=other.name)
        return None
    return other


@routes.command("away")
async def _away_command(
    work: Work, person: Person, event: MessageReceived, args: list[str]
) -> None:
    at = next((i for i, word in enumerate(args) if _looks_like_until(word)), None)
    if at is None:
        await reply(work, event, person, "usage_away")
        return
    target = await _target(work, person, event, args[:at])
    if target is None:
        return
    try:
        until = parse_until(args[at], work.now, target.timezone)
    except ValueError:
        await reply(work, event, person, "usage_away")
        return
    reason = " ".join(args[at + 1 :])
    if target.role == Role.RESIDENT and target.id == person.id:
        # Writing is a sign of life: it answers an open check-in first.
        await checkin.record_answer(
            work, person, help_wanted=False, said=event.text, via="text", quiet=True
        )
    absence = await go_away(work, target, until, reason, person)
    if target.role == Role.RESIDENT:
        key = "away_set_self" if target.id == person.id else "away_set"
        await reply(
            work, event, person, key, name=target.name, until=day_hm(absence.until, person.timezone)
        )
        return
    deputies = await cover.deputies(work, target, target.grid)
    await reply(
        work,
        event,
        person,
        "away_set_responder",
        name=target.name,
        until=day_hm(absence.until, person.timezone),
        deputies=", ".join(d.name for d in deputies) or "-",
    )


@routes.command("back")
async def _back_command(
    work: Work, person: Person, event: MessageReceived, args: list[str]
) -> None:
    target = await _target(work, person, event, args)
    if target is None:
        return
    absence = await work.tx.current_absence(target.id, work.now)
    if absence is None or not await come_back(work, absence, person):
        await reply(work, event, person, "not_away", name=target.name)
        return
    if target.id == person.id:
        await reply(work, event, person, "back_self")
    else:
        await reply_text(
            work, event, person, work.texts.render(person.language, "back_set", name=target.name)
        )
