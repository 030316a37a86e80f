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
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway.durations import parse_duration
from gateway.textfiles import TextFileError, read_utf8

BUILTIN_CONFIG = "example.yaml"
# Limits on the workflow file, far above any real one (a street's file is a few KB),
# so that a broken or hostile file is refused at once instead of eating the machine.
# PyYAML reads about 200 KB a second, so the size limit is also a time limit.
MAX_CONFIG_BYTES = 256 * 1024
MAX_DEPTH = 50
MAX_ALIASES = 100
MAX_VALUES = 100_000
MAX_PROBLEMS = 50


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
    def _chat_ref(cls, value: str) -> str:
        platform, _, chat = value.partition(":")
        if platform not in {"telegram", "matrix", "local"} or not chat:
            raise ValueError('must be "telegram:<chat id>", "matrix:<room id>" or "local:<name>"')
        return value


class Language(enum.StrEnum):
    ZH = "zh"
    EN = "en"


HELP_WORD_LISTS = ("urgent", "concern", "negation", "fine")
MAX_HELP_WORDS = 200
HelpWord = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
HelpWordList = Annotated[tuple[HelpWord, ...], Field(max_length=MAX_HELP_WORDS)]


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
    # Extra words for reading what residents write, by list (urgent, concern, negation,
    # fine); the intent workflow adds them to its built-in ones.
    help_words: dict[str, HelpWordList] = Field(default_factory=dict)
    # How long a resident has to answer "shall someone come?" after a worrying message.
    concern_window: Duration = timedelta(minutes=15)

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
                raise _RefError(
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


class _Refused(Exception):
    """The file is refused before validation: too big, too deep, too many aliases, or a
    value YAML cannot build."""

    def __init__(self, line: int | None, path: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.line, self.path, self.message = line, path, message


class _Alias(yaml.Node):
    # An alias (`*name`) kept as itself rather than as the node it names, so that its
    # expansion is counted and a refusal can name the line where it was used.
    def __init__(self, target: yaml.Node, start_mark: Any, end_mark: Any) -> None:
        super().__init__(target.tag, target.value, start_mark, end_mark)
        self.target = target


class _LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, with limits checked while composing: nesting is composed
    recursively (1,000 levels would be a RecursionError), and aliases are where a small
    file becomes a huge one (a "billion laughs" file)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.depth = 0
        self.aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _Refused(line, (), f"more than {MAX_ALIASES} aliases (*name) in one file")
            target = super().compose_node(parent, index)
            assert target is not None  # an alias always names a node or raises
            return _Alias(target, event.start_mark, event.end_mark)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Refused(line, (), f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_PLAIN_TAGS = frozenset({"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"})


@dataclass
class _Builder:
    """Plain data from composed nodes, remembering each key path's line, with aliases
    expanded under a budget of values and depth."""

    loader: _LimitedLoader
    lines: dict[tuple[str, ...], int]
    values: int = 0
    # The outermost alias being expanded: a refusal names where it was used.
    alias_at: tuple[int, tuple[str, ...]] | None = None

    def build(self, node: yaml.Node, path: tuple[str, ...], depth: int = 0) -> Any:
        line = node.start_mark.line + 1
        if isinstance(node, _Alias):
            outer = self.alias_at
            self.alias_at = outer or (line, path)
            try:
                return self.build(node.target, path, depth)
            finally:
                self.alias_at = outer
        self.lines.setdefault(path, line)
        self.values += 1
        if self.values > MAX_VALUES or depth > MAX_DEPTH:
            what = (
                f"more than {MAX_VALUES:,} values"
                if self.values > MAX_VALUES
                else f"nesting deeper than {MAX_DEPTH} levels"
            )
            if self.alias_at is not None:
                alias_line, alias_path = self.alias_at
                raise _Refused(alias_line, alias_path, f"aliases (*name) expand to {what}")
            raise _Refused(line, path, f"the file holds {what}")
        if isinstance(node, yaml.CollectionNode) and node.tag not in _PLAIN_TAGS:
            # Tags on scalars are checked by building them; on collections they would
            # be silently dropped, so a `!!python/object` there would read as a list.
            raise _Refused(line, path, f"not valid YAML here: the tag {_shown(node.tag)}")
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                target = key_node.target if isinstance(key_node, _Alias) else key_node
                if not isinstance(target, yaml.ScalarNode):
                    raise _Refused(key_node.start_mark.line + 1, path, "a key must be a plain word")
                key = str(self.scalar(target, path))
                key_line = key_node.start_mark.line + 1
                if key in result:
                    # YAML would keep the second silently: a plan pasted twice and
                    # edited once must not quietly win or lose.
                    first = self.lines[(*path, key)]
                    raise _Refused(key_line, (*path, key), f"given twice (first on line {first})")
                self.lines[(*path, key)] = key_line
                result[key] = self.build(value_node, (*path, key), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [
                self.build(item, (*path, str(i)), depth + 1) for i, item in enumerate(node.value)
            ]
        return self.scalar(node, path)

    def scalar(self, node: yaml.Node, path: tuple[str, ...]) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            raise _Refused(node.start_mark.line + 1, path, f"not valid YAML: {problem}") from None
        except (ValueError, OverflowError) as exc:
            # A 5,000-digit number, a timestamp on the 31st of February.
            message = str(exc).split(":")[0] if "digits" in str(exc) else str(exc)
            raise _Refused(
                node.start_mark.line + 1, path, f"cannot read this value: {message}"
            ) from None


def _line_for(path: tuple[str, ...], lines: dict[tuple[str, ...], int]) -> int | None:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def parse_config(text: str, filename: str = "<config>") -> WorkflowConfig:
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(
            [ConfigProblem(filename, None, "", f"larger than {MAX_CONFIG_BYTES:,} characters")]
        )
    lines: dict[tuple[str, ...], int] = {}
    loader: _LimitedLoader | None = None
    try:
        loader = _LimitedLoader(text)  # refuses control characters already
        node = loader.get_single_node()
        if node is None:
            raise ConfigError([ConfigProblem(filename, 1, "", "the file is empty")])
        data = _Builder(loader, lines).build(node, ())
    except yaml.reader.ReaderError as exc:
        at = text.count("\n", 0, exc.position) + 1
        raise ConfigError(
            [
                ConfigProblem(
                    filename, at, "", f"not valid YAML: {exc.reason} (#x{exc.character:04x})"
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            [ConfigProblem(filename, line, "", f"not valid YAML: {problem}")]
        ) from None
    except _Refused as exc:
        raise ConfigError(
            [ConfigProblem(filename, exc.line, ".".join(exc.path), exc.message)]
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
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
        if len(problems) > MAX_PROBLEMS:
            more = len(problems) - MAX_PROBLEMS
            problems = problems[:MAX_PROBLEMS]
            problems.append(ConfigProblem(filename, None, "", f"… and {more:,} more problem(s)"))
        raise ConfigError(problems) from None


def builtin_config_text() -> str:
    return resources.files("gateway").joinpath(BUILTIN_CONFIG).read_text(encoding="utf-8")


def load_config(path: Path) -> tuple[WorkflowConfig, str]:
    """Load `path`, or the built-in example when it does not exist. Returns the config
    and a description of where it came from."""
    if not path.exists():
        return parse_config(builtin_config_text(), "built-in example"), "built-in example"
    try:
        text = read_utf8(path, MAX_CONFIG_BYTES)
    except TextFileError as exc:
        raise ConfigError([ConfigProblem(str(path), exc.line, "", exc.message)]) from None
    return parse_config(text, str(path)), str(path)


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
