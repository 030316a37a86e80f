"""Reading the workflow file: YAML with limits, every problem with its line and key path.

Loaded once at start-up and validated whole, so every problem is reported together
with its key path and line (`carecheck config check FILE`), before the database is
touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from core.config import CHANNEL_CHECK, KeyPathError, WorkflowConfig
from gateway.platforms import channel_problem
from gateway.textfiles import TextFileError, read_utf8
from workflows.texts import template_problems

BUILTIN_CONFIG = "example.yaml"
# Limits on the workflow file, far above any real one (a street's file is a few KB),
# so that a broken or hostile file is refused at once instead of eating the machine.
# PyYAML reads about 200 KB a second, so the size limit is also a time limit.
MAX_CONFIG_BYTES = 256 * 1024
MAX_DEPTH = 50
MAX_ALIASES = 100
MAX_VALUES = 100_000
MAX_PROBLEMS = 50


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
        config = WorkflowConfig.model_validate(data, context={CHANNEL_CHECK: channel_problem})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path = tuple(str(p) for p in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            ctx_error = (error.get("ctx") or {}).get("error")
            if isinstance(ctx_error, KeyPathError):
                # A nested model's error names its path from that model down.
                inner = ctx_error.path
                path = inner if inner[: len(path)] == path else (*path, *inner)
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
    # Which templates exist and which placeholders each may use is the texts' to say.
    problems = [
        ConfigProblem(filename, _line_for(path, lines), ".".join(path), problem)
        for lang, overrides in config.templates.items()
        for key, text in overrides.items()
        if (problem := template_problems(key, text))
        for path in [("templates", lang.value, key)]
    ]
    if problems:
        raise ConfigError(problems)
    return config


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


def _shown(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
