"""The workflow file's model: plans, escalation policies, teams, text overrides and word
lists, validated whole by pydantic. Reading the YAML (with its limits and line numbers)
is the gateway's job (`gateway/config.py`); this is what the workflows are given.
"""

from __future__ import annotations

import enum
import string
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from core.durations import parse_duration
from core.enums import InvitePolicy, NeedKind, Role


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"write a unit with the number, for example {value}m")
    if not isinstance(value, str):
        raise ValueError("must be a duration such as 30m")
    return parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {name!r} (use an IANA name such as Asia/Shanghai)"
        ) from None
    return name


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # spans midnight


def _quiet_hours(value: Any) -> QuietHours | None:
    if value is None or isinstance(value, QuietHours):
        return value
    if not isinstance(value, str) or "-" not in value:
        raise ValueError('must look like "21:30-07:00"')
    try:
        start, end = (time.fromisoformat(part.strip()) for part in value.split("-", 1))
    except ValueError:
        raise ValueError('must look like "21:30-07:00" (24-hour HH:MM-HH:MM)') from None
    if start == end:
        raise ValueError("start and end are the same")
    return QuietHours(start, end)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Channel(enum.StrEnum):
    """How the residents of a plan are asked: in their chat, or by a caller's phone call."""

    CHAT = "chat"
    PHONE = "phone"


class Expect(_Model):
    """Signs of life a plan expects besides chat answers: a call of the resident's ping
    URL at least every `ping_every` (a door sensor, a smart plug, a water-meter bridge),
    and, when given, readings of at least `min_water_litres_per_day` litres."""

    ping_every: Duration
    min_water_litres_per_day: float | None = Field(default=None, gt=0, le=100_000)

    @field_validator("ping_every")
    @classmethod
    def _sensible(cls, value: timedelta) -> timedelta:
        if not timedelta(minutes=10) <= value <= timedelta(days=30):
            raise ValueError("must be between 10m and 30d")
        return value


class Plan(_Model):
    schedule: str
    reply_window: Duration
    reminders: list[Duration] = Field(default_factory=list)
    escalation: str
    quiet_hours: Annotated[QuietHours | None, BeforeValidator(_quiet_hours)] = None
    # `phone`: every resident on the plan is phoned by a caller (a call task), whatever
    # their `contact`; `chat`: each resident as their `contact` says.
    channel: Channel = Channel.CHAT
    # A call nobody picked up is tried again after `call_retry`, `call_attempts` times
    # in all, before it counts as missed.
    call_retry: Duration = timedelta(minutes=30)
    call_attempts: int = Field(default=3, ge=1, le=10)
    expect: Expect | None = None

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as exc:
            raise ValueError(
                f"not a cron expression (minute hour day month weekday): {exc}"
            ) from None
        return value

    @field_validator("reply_window")
    @classmethod
    def _positive_window(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value

    @field_validator("call_retry")
    @classmethod
    def _positive_retry(cls, value: timedelta) -> timedelta:
        if not timedelta(0) < value <= timedelta(hours=12):
            raise ValueError("must be longer than zero and at most 12h")
        return value

    @model_validator(mode="after")
    def _reminders_inside_window(self) -> Plan:
        for reminder in self.reminders:
            if not timedelta(0) < reminder < self.reply_window:
                raise ValueError("every reminder must fall inside the reply window")
        return self

    def trigger(self, timezone: str) -> CronTrigger:
        return CronTrigger.from_crontab(self.schedule, timezone=timezone)


class Step(_Model):
    notify: Role
    wait: Duration | None = None

    @field_validator("notify")
    @classmethod
    def _responder(cls, value: Role) -> Role:
        if value is Role.RESIDENT:
            raise ValueError("an escalation step notifies responders, not the resident")
        return value


class EscalationPolicy(_Model):
    steps: list[Step] = Field(min_length=1)
    repeat: int = Field(default=0, ge=0, le=20)
    # How long a step without its own `wait` waits before the walk goes on.
    default_wait: Duration = timedelta(minutes=30)


# The validation context key for a team channel's check: a callable taking the channel
# ("telegram:-1001234") and returning None, or what the channel must be instead.
CHANNEL_CHECK = "channel_problem"


class Team(_Model):
    channel: str
    handles: list[NeedKind] = Field(default_factory=list)
    # The name people see (药品组); the workflow file fills in the team's key when the
    # team has none.
    name: str = Field(default="", min_length=1, max_length=64)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        value = value.strip()
        if not value or not value.isprintable():
            raise ValueError("must be printable text, not empty")
        return value

    @property
    def display_name(self) -> str:
        return self.name

    @field_validator("channel")
    @classmethod
    def _chat_ref(cls, value: str, info: ValidationInfo) -> str:
        return _channel(value, info)


def _channel(value: str, info: ValidationInfo) -> str:
    # The platforms are the gateway's to know: it passes their check in the
    # validation context (CHANNEL_CHECK). Without it only the shape is checked.
    check = (info.context or {}).get(CHANNEL_CHECK)
    if callable(check):
        problem = check(value)
        if problem:
            raise ValueError(problem)
        return value
    platform, _, chat = value.partition(":")
    if not platform or not chat:
        raise ValueError('must be "<platform>:<chat>"')
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class Grid(_Model):
    """One grid of the register. `callers` phone the grid's residents who have no
    caller of their own (names of people with role caller or team_member); `channel`
    is a group that hears of the grid's alerts and needs as they open and close (a
    WeCom group robot, a webhook, a Telegram group)."""

    callers: list[Name] = Field(default_factory=list, max_length=50)
    channel: str | None = None

    @field_validator("channel")
    @classmethod
    def _chat_ref(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _channel(value, info)


def _grid_register(value: Any) -> Any:
    # The register may be a plain list of grid names, or a mapping of grid names to
    # what each grid has (callers): both read as the mapping.
    if isinstance(value, list):
        for index, name in enumerate(value):
            if not isinstance(name, str) or not name.strip():
                raise KeyPathError(("grids", str(index)), "must be a grid name")
        return {name: {} for name in value}
    if isinstance(value, dict):
        return {key: {} if grid is None else grid for key, grid in value.items()}
    return value


class Language(enum.StrEnum):
    ZH = "zh"
    EN = "en"


HELP_WORD_LISTS = ("urgent", "concern", "negation", "fine")
MAX_HELP_WORDS = 200
HelpWord = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
HelpWordList = Annotated[tuple[HelpWord, ...], Field(max_length=MAX_HELP_WORDS)]


def _clock_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        # YAML 1.1 reads an unquoted 20:00 as the number 1200 (base 60: minutes).
        return time(value // 60, value % 60)
    if isinstance(value, str):
        try:
            parsed = time.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None and not parsed.second and not parsed.microsecond:
                return parsed
    raise ValueError('must be a time of day such as "20:00" (24-hour HH:MM)')


ClockTime = Annotated[time, BeforeValidator(_clock_time)]


def _off_is_none(value: Any) -> Any:
    # `off`, `false` and `null` turn a rule off (YAML reads off as false).
    return None if value is False or value is None else value


class CountRule(_Model):
    """Flag a resident when `count` of something happened within `within`."""

    count: int = Field(ge=1, le=100)
    within: Duration

    @field_validator("within")
    @classmethod
    def _window(cls, value: timedelta) -> timedelta:
        if not timedelta(days=1) <= value <= timedelta(days=90):
            raise ValueError("must be between 1d and 90d")
        return value


class DriftRule(_Model):
    """Flag a resident whose answers come more than `more_than` away from their own
    usual time (the median of `median_of`) on `days_in_a_row` days running."""

    more_than: Duration = timedelta(hours=2)
    days_in_a_row: int = Field(default=3, ge=1, le=14)
    median_of: Duration = timedelta(days=14)

    @model_validator(mode="after")
    def _sizes(self) -> DriftRule:
        if not timedelta(minutes=10) <= self.more_than <= timedelta(hours=12):
            raise KeyPathError(("more_than",), "must be between 10m and 12h")
        if not timedelta(days=self.days_in_a_row + 3) <= self.median_of <= timedelta(days=90):
            raise KeyPathError(
                ("median_of",), "must be at least days_in_a_row + 3 days, and at most 90d"
            )
        return self


class ContactLimits(_Model):
    """The longest a resident of each risk tier may go without human contact."""

    high: Duration = timedelta(days=7)
    key: Duration = timedelta(days=30)
    general: Duration = timedelta(days=90)
    # After a return from hospital a resident counts as `high` for this long.
    after_hospital: Duration = timedelta(days=7)

    @model_validator(mode="after")
    def _positive(self) -> ContactLimits:
        for name in ("high", "key", "general", "after_hospital"):
            if getattr(self, name) <= timedelta(0):
                raise KeyPathError((name,), "must be longer than zero")
        return self


OptionalRule = BeforeValidator(_off_is_none)


class EarlyWarning(_Model):
    """Quiet flags (never a page): shown in the daily summary, `carecheck status` and
    the dashboard. Each rule can be turned off with `off`."""

    missed: Annotated[CountRule | None, OptionalRule] = CountRule(count=2, within=timedelta(days=7))
    late: Annotated[CountRule | None, OptionalRule] = CountRule(count=3, within=timedelta(days=14))
    drift: Annotated[DriftRule | None, OptionalRule] = DriftRule()
    no_contact: Annotated[ContactLimits | None, OptionalRule] = ContactLimits()


def _share(value: Any) -> Any:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError('must be a share such as "30%" or 0.3') from None
    return value


class OutageGuard(_Model):
    """When one platform fails a large share of a round's prompts, one alert to
    operators and care leads instead of a page per resident, and the affected
    check-ins wait for the platform."""

    threshold: Annotated[float, BeforeValidator(_share)] = Field(default=0.3, gt=0, le=1)
    # A round with fewer prompts on a platform is never taken for an outage there.
    min_prompts: int = Field(default=10, ge=1)
    # How long after a round opens its deliveries are judged, and then how often a
    # platform in outage is looked at again.
    check_after: Duration = timedelta(minutes=5)
    check_every: Duration = timedelta(minutes=5)
    # A check-in held longer than this for its platform escalates as unreachable.
    max_hold: Duration = timedelta(hours=24)

    @model_validator(mode="after")
    def _times(self) -> OutageGuard:
        for name in ("check_after", "check_every", "max_hold"):
            if getattr(self, name) < timedelta(minutes=1):
                raise KeyPathError((name,), "must be at least 1m")
        return self


class Retention(_Model):
    """How long what people wrote, and what happened, is kept (a daily job enforces it)."""

    # Message texts (what residents wrote, notes, sent messages) are reduced to what
    # they were taken to mean after this long.
    message_texts: Duration = timedelta(days=90)
    # Check-ins, alerts, needs, messages and sent messages, once closed, are deleted.
    records: Duration = timedelta(days=730)
    audit: Duration = timedelta(days=1095)
    # When the daily job runs, in the workflow file's timezone.
    run_at: ClockTime = time(3, 30)

    @field_validator("message_texts", "records", "audit")
    @classmethod
    def _at_least_a_day(cls, value: timedelta) -> timedelta:
        if value < timedelta(days=1):
            raise ValueError("must be at least 1d")
        return value


class WorkflowConfig(_Model):
    timezone: str = "Asia/Shanghai"
    default_plan: str | None = None
    invite_policy: InvitePolicy = InvitePolicy.KNOWN
    invite_ttl: Duration = timedelta(days=14)
    plans: dict[str, Plan] = Field(min_length=1)
    escalation_policies: dict[str, EscalationPolicy] = Field(min_length=1)
    teams: dict[str, Team] = Field(default_factory=dict)
    templates: dict[Language, dict[str, str]] = Field(default_factory=dict)
    # Optional register of grids: when given, people may only be imported into these.
    # A list of names, or a mapping of names to what each grid has (`callers`,
    # `channel`).
    grids: Annotated[dict[str, Grid], BeforeValidator(_grid_register)] = Field(default_factory=dict)
    # Extra words for reading what residents write, by list (urgent, concern, negation,
    # fine); the intent workflow adds them to its built-in ones.
    help_words: dict[str, HelpWordList] = Field(default_factory=dict)
    # How long a resident has to answer "shall someone come?" after a worrying message.
    concern_window: Duration = timedelta(minutes=15)
    # When grid leaders and care leads get the day's summary, in their own timezone.
    summary_time: ClockTime = time(20, 0)
    # A need still open after this long is listed as overdue in the summary.
    need_overdue_after: Duration = timedelta(hours=48)
    early_warning: EarlyWarning = EarlyWarning()
    outage_guard: Annotated[OutageGuard | None, OptionalRule] = OutageGuard()
    retention: Retention = Field(default_factory=Retention)

    @model_validator(mode="before")
    @classmethod
    def _team_names(cls, data: Any) -> Any:
        # A team without a display name is shown by its key.
        teams = data.get("teams") if isinstance(data, dict) else None
        if isinstance(teams, dict):
            named = {
                key: {"name": key, **team} if isinstance(team, dict) else team
                for key, team in teams.items()
            }
            data = {**data, "teams": named}
        return data

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("help_words")
    @classmethod
    def _help_word_lists(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for key in value:
            if key not in HELP_WORD_LISTS:
                raise KeyPathError(
                    ("help_words", key), f"unknown key (known: {', '.join(HELP_WORD_LISTS)})"
                )
        return value

    @field_validator("concern_window")
    @classmethod
    def _concern_window(cls, value: timedelta) -> timedelta:
        if not timedelta(0) < value <= timedelta(hours=24):
            raise ValueError("must be longer than zero and at most 24h")
        return value

    @model_validator(mode="after")
    def _references(self) -> WorkflowConfig:
        for name, plan in self.plans.items():
            if plan.escalation not in self.escalation_policies:
                raise KeyPathError(
                    ("plans", name, "escalation"),
                    f"no escalation policy named {plan.escalation!r} "
                    f"(known: {', '.join(sorted(self.escalation_policies))})",
                )
        if self.default_plan is not None and self.default_plan not in self.plans:
            raise KeyPathError(("default_plan",), f"no plan named {self.default_plan!r}")
        for lang, overrides in self.templates.items():
            for key, text in overrides.items():
                # Which keys and placeholders exist is the texts' business (the gateway
                # checks that); here only that a template can never fail to render.
                try:
                    template_fields(text)
                except ValueError as exc:
                    raise KeyPathError(("templates", lang.value, key), str(exc)) from None
        return self

    @property
    def plan_name_default(self) -> str:
        return self.default_plan or next(iter(self.plans))


class KeyPathError(ValueError):
    """A cross-reference problem, carrying the key path it belongs to."""

    def __init__(self, path: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


def template_fields(text: str) -> set[str]:
    """The placeholders of a template. Raises ValueError for anything but a bare
    `{field}`: a format spec (`{name:>999999999}`), a conversion (`{name!r}`), attribute
    or index access (`{name.x}`, `{name[0]}`) or a positional `{}` could fail, or eat
    memory, only when the text is rendered in the middle of a round."""
    fields: set[str] = set()
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        whole = (
            "{"
            + name
            + (f"!{conversion}" if conversion else "")
            + (f":{spec}" if spec else "")
            + "}"
        )
        if spec or conversion or not name.isidentifier():
            raise ValueError(
                f"{_shown(whole)}: only plain placeholders such as {{name}} are allowed "
                "(no format specs, conversions, attributes, indexes or empty {})"
            )
        fields.add(name)
    return fields


def _shown(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
