"""When rounds open: cron in the resident's timezone, moved out of quiet hours.

APScheduler's CronTrigger does the calendar arithmetic (timezones, DST); the round
itself is a durable timer row, so a round due while the gateway was down opens as
soon as it starts again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from gateway.config import Plan, QuietHours
from workflows.timefmt import local


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
