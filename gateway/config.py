"""The workflow file: plans, escalation policies, teams and text overrides.

Loaded once at start-up and validated whole, so every problem is reported together
with its key path and line (`carecheck config check FILE`), before the database is
touched.
"""

from __future__ import annotations

import enum
import string
from dataclasses import dataclass
from datetime import time, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway.durations import parse_duration

BUILTIN_CONFIG = "example.yaml"


class Role(enum.StrEnum):
    RESIDENT = "resident"
    GRID_LEADER = "grid_leader"
    CARE_LEAD = "care_lead"
    FAMILY = "family"
    TEAM_MEMBER = "team_member"
    OPERATOR = "operator"


RESPONDER_ROLES = frozenset(Role) - {Role.RESIDENT}


class NeedKind(enum.StrEnum):
    MEDICINE = "medicine"
    GROCERIES = "groceries"
    PERSONAL_CARE = "personal_care"
    REPAIR = "repair"
    COMPANIONSHIP = "companionship"
    MEDICAL = "medical"
    OTHER = "other"


class InvitePolicy(enum.StrEnum):
    KNOWN = "known"
    ANYONE = "anyone"


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


class Plan(_Model):
    schedule: str
    reply_window: Duration
    reminders: list[Duration] = Field(default_factory=list)
    escalation: str
    quiet_hours: Annotated[QuietHours | None, BeforeValidator(_quiet_hours)] = None

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


class Team(_Model):
    channel: str
    handles: list[NeedKind] = Field(default_factory=list)

    @field_validator("channel")
    @classmethod
    def _chat_ref(cls, value: str) -> str:
        platform, _, chat = value.partition(":")
        if platform not in {"telegram", "matrix", "local"} or not chat:
            raise ValueError('must be "telegram:<chat id>", "matrix:<room id>" or "local:<name>"')
        return value


class Language(enum.StrEnum):
    ZH = "zh"
    EN = "en"


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
    grids: list[str] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)

    @model_validator(mode="after")
    def _references(self) -> WorkflowConfig:
        for name, plan in self.plans.items():
            if plan.escalation not in self.escalation_policies:
                raise _RefError(
                    ("plans", name, "escalation"),
                    f"no escalation policy named {plan.escalation!r} "
                    f"(known: {', '.join(sorted(self.escalation_policies))})",
                )
        if self.default_plan is not None and self.default_plan not in self.plans:
            raise _RefError(("default_plan",), f"no plan named {self.default_plan!r}")
        # Imported lazily: the texts live with the workflows, the config only checks keys.
        from workflows.texts import template_problems

        for lang, overrides in self.templates.items():
            for key, text in overrides.items():
                problem = template_problems(key, text)
                if problem:
                    raise _RefError(("templates", lang.value, key), problem)
        return self

    @property
    def plan_name_default(self) -> str:
        return self.default_plan or next(iter(self.plans))


class _RefError(ValueError):
    """A cross-reference problem, carrying the key path it belongs to."""

    def __init__(self, path: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path or '(top)'}: {self.message}"


class ConfigError(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _to_python(node: yaml.Node, path: tuple[str, ...], lines: dict[tuple[str, ...], int]) -> Any:
    """Build plain data from a composed YAML node, remembering each key path's line."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(yaml.safe_load(yaml.serialize(key_node)))
            lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _to_python(value_node, (*path, key), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, str(i)), lines) for i, item in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def _line_for(path: tuple[str, ...], lines: dict[tuple[str, ...], int]) -> int | None:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def parse_config(text: str, filename: str = "<config>") -> WorkflowConfig:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            [ConfigProblem(filename, line, "", f"not valid YAML: {problem}")]
        ) from None
    if node is None:
        raise ConfigError([ConfigProblem(filename, None, "", "the file is empty")])
    lines: dict[tuple[str, ...], int] = {}
    data = _to_python(node, (), lines)
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(filename, 1, "", "must be a mapping of sections")])
    try:
        return WorkflowConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path = tuple(str(p) for p in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            ctx_error = (error.get("ctx") or {}).get("error")
            if isinstance(ctx_error, _RefError):
                path = ctx_error.path
                message = str(ctx_error)
            if error["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append(
                ConfigProblem(filename, _line_for(path, lines), ".".join(path), message)
            )
        raise ConfigError(problems) from None


def builtin_config_text() -> str:
    return resources.files("gateway").joinpath(BUILTIN_CONFIG).read_text(encoding="utf-8")


def load_config(path: Path) -> tuple[WorkflowConfig, str]:
    """Load `path`, or the built-in example when it does not exist. Returns the config
    and a description of where it came from."""
    if not path.exists():
        return parse_config(builtin_config_text(), "built-in example"), "built-in example"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(str(path), None, "", f"cannot read: {exc}")]) from None
    return parse_config(text, str(path)), str(path)


def template_fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}
