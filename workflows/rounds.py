"""When rounds open: cron in the resident's timezone, moved out of quiet hours; and
rounds started by hand.

APScheduler's CronTrigger does the calendar arithmetic (timezones, DST); the round
itself is a durable timer row, so a round due while the gateway was down opens as
soon as it starts again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from core.config import Plan, QuietHours
from core.enums import TimerKind
from core.records import Timer
from workflows import calls, checkin, outage
from workflows.context import Work
from workflows.routes import Routes
from workflows.timefmt import local

log = logging.getLogger(__name__)

TIMER_ROUND = TimerKind.ROUND
TIMER_MANUAL_ROUND = TimerKind.MANUAL_ROUND
MERGE_CAUGHT_UP_ROUND = timedelta(hours=6)

routes = Routes()


def round_key(plan: str, timezone: str) -> str:
    return f"{plan}|{timezone}"


def parse_round_key(key: str) -> tuple[str, str]:
    plan, _, timezone = key.partition("|")
    return plan, timezone


def end_of_quiet(when: datetime, quiet: QuietHours, timezone: str) -> datetime:
    """The first moment at or after `when` outside quiet hours."""
    here = local(when, timezone)
    if not quiet.contains(here.time().replace(tzinfo=None)):
        return when
    end = here.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if end <= here:
        end += timedelta(days=1)
    return end.astimezone(when.tzinfo)


def next_round(plan: Plan, timezone: str, after: datetime) -> datetime:
    """The next round strictly after `after`, shifted past quiet hours if it falls inside."""
    trigger = plan.trigger(timezone)
    fire = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    if fire is None:  # a cron that never fires again cannot be written in five fields
        raise ValueError(f"schedule {plan.schedule!r} has no next time")
    if plan.quiet_hours is not None:
        fire = end_of_quiet(fire, plan.quiet_hours, timezone)
    result: datetime = fire.astimezone(after.tzinfo)
    return result


def manual_round_key(plan: str, timezone: str, grid: str, emergency: bool) -> str:
    return f"{plan}|{timezone}|{grid}|{'emergency' if emergency else ''}"


def parse_manual_round_key(key: str) -> tuple[str, str, str, bool]:
    plan, timezone, grid, flag = ([*key.split("|"), "", "", ""])[:4]
    return plan, timezone, grid, flag == "emergency"


# How far back to look for the round a hand-started one belongs to: a week covers
# weekly schedules; a schedule rarer than that makes every hand-started round new.
_LOOK_BACK = timedelta(days=8)
_MAX_FIRES = 20_000


def previous_round(plan: Plan, timezone: str, now: datetime) -> datetime:
    """The latest scheduled round time at or before `now` (its start, before any shift
    out of quiet hours); `now - 8 days` when there was none that recently."""
    trigger = plan.trigger(timezone)
    start = now - _LOOK_BACK
    latest = start
    fire = trigger.get_next_fire_time(None, start)
    for _ in range(_MAX_FIRES):
        if fire is None or fire > now:
            break
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    result: datetime = latest.astimezone(now.tzinfo)
    return result


async def open_round(
    work: Work,
    plan_name: str,
    timezone: str,
    due_at: datetime,
    *,
    grid: str = "",
    skip_asked_since: datetime | None = None,
    emergency: bool = False,
) -> checkin.RoundResult:
    """A round's check-ins, prompts, and the callers' tasks for residents phoned."""
    result = await checkin.open_round(
        work,
        plan_name,
        timezone,
        due_at,
        grid=grid,
        skip_asked_since=skip_asked_since,
        emergency=emergency,
    )
    if result.calls:
        await calls.send_tasks(work, result.calls)
    return result


@routes.timer(TIMER_ROUND)
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
    result = await open_round(
        work, plan_name, timezone, timer.due_at, skip_asked_since=timer.due_at
    )
    await outage.watch_round(work, work.now, result.opened)
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
        result = await open_round(
            work,
            plan_name,
            timezone,
            work.now,
            grid=grid,
            skip_asked_since=previous_round(plan, timezone, work.now),
            emergency=emergency,
        )
        await outage.watch_round(work, work.now, result.opened)
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


@routes.timer(TIMER_MANUAL_ROUND)
async def _on_manual_round_due(work: Work, timer: Timer) -> None:
    plan_name, timezone, grid, emergency = parse_manual_round_key(timer.arg)
    plan = work.config.plans.get(plan_name)
    if plan is None:
        return
    result = await open_round(
        work,
        plan_name,
        timezone,
        work.now,
        grid=grid,
        skip_asked_since=previous_round(plan, timezone, work.now),
        emergency=emergency,
    )
    await outage.watch_round(work, work.now, result.opened)
    await work.tx.audit(work.now, "round.opened", timer.arg, None, str(result.opened))
    log.info("round %s (started by hand) opened: %d check-ins", timer.arg, result.opened)
