"""Signs of life from the home: a door sensor, a smart plug or a water-meter bridge
calls the resident's ping URL (the `ping` adapter turns each call into a `SignOfLife`).

A plan that `expect`s pings keeps one durable timer per resident, moved forward by
each ping. When it fires the resident has been silent for `ping_every`: someone with
a chat is asked, with the check-in's own buttons, in a check-in of its own (so a
reply, a tap or a late ping answers it and silence through the reply window closes
it as missed, with the same alert as any missed check-in); someone without a chat is
phoned instead, exactly as a round phones residents without a chat (a call task to
their caller; with nobody to phone them, an alert at once). Nobody is asked while
recorded away.

A ping counts as any other sign of life: it answers whatever check-in is open and
calls off an alert that silence opened. A reading below the plan's
`min_water_litres_per_day` is not a sign of life: nobody may be using the water.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.commands import Priority
from core.config import Expect, Plan
from core.enums import Role, TimerKind
from core.events import SignOfLife
from core.ids import PersonId
from core.pings import LAST_KEY, PERSON_KEY
from core.ports import Tx
from core.records import Person, Timer
from workflows import calls, checkin
from workflows.context import Work
from workflows.messaging import to_person
from workflows.routes import Routes

log = logging.getLogger(__name__)

TIMER_PING = TimerKind.PING

routes = Routes()


def expects(work: Work, person: Person) -> tuple[Plan, Expect] | None:
    plan = work.config.plans.get(person.plan)
    if plan is None or plan.expect is None:
        return None
    return plan, plan.expect


async def arm(tx: Tx, person_id: PersonId, due: datetime, now: datetime) -> None:
    """The one deadline for this resident's next ping, replacing any earlier one."""
    await tx.cancel_timers(person_id, (TIMER_PING,))
    await tx.add_timer(due, TIMER_PING, person_id, "", now)


async def has_ping_url(tx: Tx, person_id: PersonId) -> bool:
    return bool(await tx.kv_get(f"{PERSON_KEY}{person_id}"))


@routes.event(SignOfLife)
async def on_sign_of_life(work: Work, event: SignOfLife) -> None:
    if not event.sender.address.isdigit():
        return
    person = await work.tx.person(int(event.sender.address))
    if person is None or person.role != Role.RESIDENT:
        return
    found = expects(work, person)
    minimum = None if found is None else found[1].min_water_litres_per_day
    if event.water_litres is not None and minimum is not None and event.water_litres < minimum:
        # Recorded, and the deadline left where it is: a meter that barely moves is
        # what the plan watches for, not a sign of life.
        await work.tx.audit(
            work.now, "signal.low_water", f"person:{person.id}", person.id, f"{event.water_litres}"
        )
        return
    await work.tx.kv_set(f"{LAST_KEY}{person.id}", work.now.isoformat())
    if found is not None:
        await arm(work.tx, person.id, work.now + found[1].ping_every, work.now)
        work.timers_added = True
    await checkin.record_answer(work, person, help_wanted=False, said="", via="ping", quiet=True)


@routes.timer(TIMER_PING)
async def on_silent(work: Work, timer: Timer) -> None:
    person = await work.tx.person(timer.ref)
    if person is None or person.role != Role.RESIDENT or not person.active:
        return
    found = expects(work, person)
    if found is None or not await has_ping_url(work.tx, person.id):
        return  # the plan no longer expects pings, or the URL was withdrawn
    plan, expect = found
    if await work.tx.current_absence(person.id, work.now) is not None:
        # Away: silence at home is expected. Looked at again after another period.
        await arm(work.tx, person.id, work.now + expect.ping_every, work.now)
        work.timers_added = True
        return
    quiet_end = _quiet_end(plan, person.timezone, work.now)
    has_chat = bool(await work.tx.identities_of(person.id))
    if quiet_end is not None and has_chat:
        # A question is routine: it waits for the end of quiet hours (alerts do not).
        await arm(work.tx, person.id, quiet_end, work.now)
        work.timers_added = True
        return
    # Silence goes on: ask again after another period, as a daily round would.
    await arm(work.tx, person.id, work.now + expect.ping_every, work.now)
    work.timers_added = True
    if await work.tx.open_checkins_of(person.id):
        return  # already being asked
    await work.tx.audit(
        work.now, "signal.silent", f"person:{person.id}", person.id, str(expect.ping_every)
    )
    deadline = work.now + plan.reply_window
    opened = await work.tx.open_checkins(person.plan, work.now, work.now, deadline, [person.id])
    checkin_id = opened.get(person.id)
    if checkin_id is None:
        return
    await work.tx.add_timer(deadline, checkin.TIMER_CLOSE, checkin_id, "", work.now)
    if not has_chat:
        # As a round does for residents checked by phone: a caller's task, closed as
        # missed with the window; nobody to phone them is an alert at once.
        await calls.send_tasks(work, [(person, checkin_id)])
        return
    await to_person(
        work,
        person,
        work.texts.render(person.language, "ping_question", name=person.name),
        priority=Priority.REPLY,
        buttons=checkin.prompt_buttons(work, person, checkin_id),
        purpose=checkin.PURPOSE_PROMPT,
        ref=checkin_id,
    )


def _quiet_end(plan: Plan, timezone: str, now: datetime) -> datetime | None:
    """When the quiet hours `now` falls in end, or None outside them."""
    quiet = plan.quiet_hours
    if quiet is None:
        return None
    here = now.astimezone(ZoneInfo(timezone))
    if not quiet.contains(here.time()):
        return None
    end = datetime.combine(here.date(), quiet.end, tzinfo=here.tzinfo)
    if end <= here:
        end += timedelta(days=1)
    return end
