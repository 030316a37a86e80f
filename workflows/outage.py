"""The outage guard: when a chat platform fails a round, one alert — not a page per
resident — and the affected check-ins wait for the platform to come back.

A round's prompts on a platform are judged `check_after` its opening (and at a prompt
refused for good after that): the platform is out when at least `threshold` of them are
failing (refused for good, or retrying after a failure), or when some fail and none
has arrived. A round with fewer than `min_prompts` prompts there is never judged.

While a platform is out:
- operators and care leads get one message ("Telegram unreachable: 412 residents not
  reached"), and the day's summary says so;
- a prompt still retrying keeps its check-in's window open (the window counts from
  delivery, see `checkin._postponed`); a prompt refused for good *holds* its check-in
  (an `outage_hold` timer, no reminder, no window closing) instead of opening an
  "unreachable" alert;
- every `check_every` it is looked at again; with nothing queued to show whether it
  works, one held resident is asked again as a probe.
It is back once the probe arrived (with check-ins held), or else once something was
delivered there since the last look and nothing is retrying: each held resident is
asked again with a full reply window, and the operators and care leads are told. A
hold lasting `max_hold` escalates as before.

A prompt refused before its round is judged is held the same way until then: the first
refusals of an outage must not page before the share is known, and nothing is counted
per refusal (a round of 100,000 refused would be counted 100,000 times). If it was no
outage after all, such holds escalate then — a few minutes late — as they would have
at once. Only a round's prompts are judged: reminders refused later in the window
escalate one by one, as before.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from core.commands import Priority
from core.config import OutageGuard
from core.enums import Role, TimerKind
from core.ids import CheckinId
from core.outbox import OutboxRow
from core.ports import Tx
from core.records import OPEN_CHECKIN_STATES, Checkin, Person, Timer
from core.watch import PromptCounts
from workflows import calls, checkin
from workflows.context import Work
from workflows.messaging import to_person
from workflows.routes import Routes
from workflows.timefmt import hm

log = logging.getLogger(__name__)

TIMER_CHECK = TimerKind.OUTAGE_CHECK
TIMER_HOLD = TimerKind.OUTAGE_HOLD
# One key holds every platform's latest outage (a handful of platforms at most).
KEY = "outages"
_ROUND = "round|"
_WATCH = "watch|"

routes = Routes()


@dataclass(frozen=True)
class Outage:
    platform: str
    since: datetime
    not_reached: int
    # When it was last looked at; `ended` once the platform works again.
    checked: datetime
    ended: datetime | None = None
    # The held check-in asked again to learn whether the platform works (0: none yet).
    probe: int = 0

    @property
    def open(self) -> bool:
        return self.ended is None


async def outages(tx: Tx) -> dict[str, Outage]:
    raw = await tx.kv_get(KEY)
    if not raw:
        return {}
    found = {}
    for platform, item in json.loads(raw).items():
        found[platform] = Outage(
            platform=platform,
            since=datetime.fromisoformat(item["since"]),
            not_reached=int(item["not_reached"]),
            checked=datetime.fromisoformat(item["checked"]),
            ended=datetime.fromisoformat(item["ended"]) if item.get("ended") else None,
            probe=int(item.get("probe", 0)),
        )
    return found


async def _save(tx: Tx, outage: Outage) -> None:
    known = await outages(tx)
    known[outage.platform] = outage
    await tx.kv_set(
        KEY,
        json.dumps(
            {
                p.platform: {
                    **asdict(p),
                    "since": p.since.isoformat(),
                    "checked": p.checked.isoformat(),
                    "ended": p.ended.isoformat() if p.ended else None,
                }
                for p in known.values()
            }
        ),
    )


def platform_label(platform: str) -> str:
    return platform[:1].upper() + platform[1:]


def is_out(counts: PromptCounts, guard: OutageGuard) -> bool:
    """At least `threshold` of the prompts failing, or some failing and none delivered
    (judged `check_after` the round opened: by then a working platform delivered some)."""
    if counts.total < guard.min_prompts or counts.failing == 0:
        return False
    return counts.failing >= guard.threshold * counts.total or counts.delivered == 0


async def during(tx: Tx, start: datetime, end: datetime) -> list[Outage]:
    """Outages that overlap [start, end), for the day's summary."""
    return [
        o
        for o in (await outages(tx)).values()
        if o.since < end and (o.ended is None or o.ended >= start)
    ]


# -- a round's deliveries ------------------------------------------------------------


async def watch_round(work: Work, opened_at: datetime, prompts: int) -> None:
    """A round was opened: judge its deliveries in a little while."""
    guard = work.config.outage_guard
    if guard is None or prompts < guard.min_prompts:
        return
    await _add_check(work, work.now + guard.check_after, _ROUND + opened_at.isoformat())


async def _add_check(work: Work, at: datetime, arg: str) -> None:
    if any(t.arg == arg for t in await work.tx.timers_of(0, TIMER_CHECK)):
        return
    await work.tx.add_timer(at, TIMER_CHECK, 0, arg, work.now)
    work.timers_added = True


async def on_prompt_undeliverable(work: Work, row: OutboxRow, error: str) -> None:
    """A prompt (or reminder) was refused for good: its check-in is held while its
    platform is out (or its round not yet judged), else it escalates as unreachable."""
    if not await hold_if_out(work, row, error):
        await calls.on_prompt_undeliverable(work, CheckinId(row.ref), error)


async def hold_if_out(work: Work, row: OutboxRow, error: str) -> bool:
    """A prompt was refused for good. True when its check-in is held for the platform
    (nothing else to do now); False when it escalates as unreachable as before."""
    guard = work.config.outage_guard
    if guard is None:
        return False
    found = await work.tx.checkin(row.ref)
    if found is None or found.state not in OPEN_CHECKIN_STATES:
        return False
    current = (await outages(work.tx)).get(row.platform)
    if (current is None or not current.open) and not await _judgement_pending(work, found.sent_at):
        # Refused after its round was judged (or in a round too small to be): counted
        # now, which is rare — during a round's first minutes nothing is counted.
        counts = next(
            (c for c in await work.tx.prompt_counts(found.sent_at) if c.platform == row.platform),
            None,
        )
        if counts is None or not is_out(counts, guard):
            return False
        await _declare(work, row.platform, counts, found.sent_at)
    await _hold(work, found, row.platform, guard, error)
    return True


async def _judgement_pending(work: Work, sent_at: datetime) -> bool:
    """Whether the round this check-in belongs to is still to be judged."""
    for check in await work.tx.timers_of(0, TIMER_CHECK):
        if check.arg.startswith(_ROUND):
            opened = datetime.fromisoformat(check.arg.removeprefix(_ROUND))
            # (Times read back from the store may differ in the last microsecond.)
            if abs(opened - sent_at) < timedelta(seconds=1):
                return True
    return False


async def _hold(work: Work, held: Checkin, platform: str, guard: OutageGuard, error: str) -> None:
    await work.tx.cancel_timers(held.id, (checkin.TIMER_REMIND, checkin.TIMER_CLOSE))
    # A probe refused again keeps the hold it had: `max_hold` counts from the first.
    if not await work.tx.timers_of(held.id, TIMER_HOLD):
        await work.tx.add_timer(work.now + guard.max_hold, TIMER_HOLD, held.id, platform, work.now)
        work.timers_added = True
    await work.tx.audit(work.now, "checkin.held", f"checkin:{held.id}", None, error)


async def _declare(work: Work, platform: str, counts: PromptCounts, since: datetime) -> None:
    """Out since `since`: the opening of the round whose prompts failed."""
    guard = work.config.outage_guard
    assert guard is not None
    outage = Outage(platform, since, counts.total - counts.delivered, work.now)
    await _save(work.tx, outage)
    await work.tx.audit(
        work.now,
        "outage.started",
        f"platform:{platform}",
        None,
        f"{counts.failing} of {counts.total} prompts failing, {counts.delivered} delivered",
    )
    log.warning(
        "%s is out: %d of %d prompts failing; check-ins wait for it",
        platform,
        counts.failing,
        counts.total,
    )
    await _tell(work, "outage_started", platform=platform_label(platform), count=outage.not_reached)
    await _add_check(work, work.now + guard.check_every, _WATCH + platform)


async def _tell(work: Work, key: str, **fields: object) -> None:
    """Operators and care leads, of every grid: the whole platform is their business."""
    told: dict[int, Person] = {}
    for role in (Role.OPERATOR, Role.CARE_LEAD):
        for person in await work.tx.people(role.value):
            if person.active:
                told.setdefault(person.id, person)
    for person in told.values():
        await to_person(
            work,
            person,
            work.texts.render(person.language, key, **fields),
            priority=Priority.ALERT,
        )


# -- timers ---------------------------------------------------------------------------


@routes.timer(TIMER_CHECK)
async def _check_due(work: Work, timer: Timer) -> None:
    guard = work.config.outage_guard
    if guard is None:
        return
    if timer.arg.startswith(_ROUND):
        await _judge_round(work, guard, datetime.fromisoformat(timer.arg.removeprefix(_ROUND)))
    elif timer.arg.startswith(_WATCH):
        await _watch(work, guard, timer.arg.removeprefix(_WATCH))


async def _judge_round(work: Work, guard: OutageGuard, opened_at: datetime) -> None:
    known = await outages(work.tx)
    for counts in await work.tx.prompt_counts(opened_at):
        current = known.get(counts.platform)
        if current is not None and current.open:
            continue
        if is_out(counts, guard):
            await _declare(work, counts.platform, counts, opened_at)
        else:
            # Held while undecided, and no outage after all: they escalate now.
            await _release_as_unreachable(work, counts.platform)


async def _watch(work: Work, guard: OutageGuard, platform: str) -> None:
    current = (await outages(work.tx)).get(platform)
    if current is None or not current.open:
        return
    holds = [t for t in await work.tx.timers_of_kind(TIMER_HOLD) if t.arg == platform]
    seen = await work.tx.platform_delivery(platform, current.checked)
    probe = current.probe
    if holds:
        # Check-ins are held: it works again when one of them can be reached (other
        # chats there may work all along, when only a share of the round failed).
        if probe and await work.tx.prompt_delivered_at(CheckinId(probe)) is not None:
            await _recover(work, current)
            return
        if not seen.pending:
            # Nothing queued there: ask one held resident again, as a probe.
            probe = 0
            for hold in holds:
                held = await work.tx.checkin(hold.ref)
                if held is not None and held.state in OPEN_CHECKIN_STATES:
                    await _ask_again(work, held)
                    probe = held.id
                    break
    elif seen.delivered_since and not seen.retrying:
        await _recover(work, current)
        return
    await _save(
        work.tx, Outage(platform, current.since, current.not_reached, work.now, probe=probe)
    )
    await _add_check(work, work.now + guard.check_every, _WATCH + platform)


async def _recover(work: Work, outage: Outage) -> None:
    await _save(
        work.tx,
        Outage(outage.platform, outage.since, outage.not_reached, work.now, ended=work.now),
    )
    asked = 0
    for hold in await work.tx.timers_of_kind(TIMER_HOLD):
        if hold.arg != outage.platform:
            continue
        await work.tx.cancel_timers(hold.ref, (TIMER_HOLD,))
        held = await work.tx.checkin(hold.ref)
        if held is not None and held.state in OPEN_CHECKIN_STATES:
            delivered = await work.tx.prompt_delivered_at(held.id)
            if delivered is None or delivered < outage.since:
                await _ask_again(work, held)  # (a probe that arrived needs no repeat)
            plan = work.config.plans.get(held.plan)
            if plan is not None:
                await work.tx.add_timer(
                    work.now + plan.reply_window, checkin.TIMER_CLOSE, held.id, "", work.now
                )
                await work.tx.set_deadline(held.id, work.now + plan.reply_window)
                work.timers_added = True
            asked += 1
    await work.tx.audit(
        work.now, "outage.ended", f"platform:{outage.platform}", None, f"{asked} asked again"
    )
    log.info("%s works again: %d held check-ins asked again", outage.platform, asked)
    await _tell(
        work,
        "outage_ended",
        platform=platform_label(outage.platform),
        since=hm(outage.since, work.config.timezone),
        count=asked,
    )


async def _ask_again(work: Work, held: Checkin) -> None:
    person = await work.tx.person(held.person_id)
    if person is None:
        return
    await to_person(
        work,
        person,
        work.texts.render(person.language, "checkin", name=person.name),
        priority=Priority.ROUTINE,
        buttons=checkin.prompt_buttons(work, person, held.id),
        purpose=checkin.PURPOSE_PROMPT,
        ref=held.id,
    )


async def _release_as_unreachable(work: Work, platform: str) -> None:
    for hold in await work.tx.timers_of_kind(TIMER_HOLD):
        if hold.arg == platform:
            await work.tx.cancel_timers(hold.ref, (TIMER_HOLD,))
            await calls.on_prompt_undeliverable(
                work, CheckinId(hold.ref), f"{platform_label(platform)}: undeliverable"
            )


@routes.timer(TIMER_HOLD)
async def _hold_over(work: Work, timer: Timer) -> None:
    """Held for `max_hold` and the platform is still out: escalate as unreachable."""
    await calls.on_prompt_undeliverable(
        work, CheckinId(timer.ref), f"{platform_label(timer.arg)}: out since the round"
    )
