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
