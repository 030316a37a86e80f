"""The workflow file: validated whole, every problem with its key path and line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config import ConfigError, builtin_config_text, load_config, parse_config

BAD = """\
timezone: Mars/Olympus
plans:
  daily:
    schedule: "0 25 * * *"
    reply_window: 60
    reminders: [90m]
    escalation: missing
    quiet_hours: "late"
escalation_policies:
  standard:
    steps:
      - {notify: resident, wait: 20m}
      - {notify: grid_leader, wait: soon}
    repeat: -1
teams:
  medicine: {channel: "irc:#x", handles: [medicine, magic]}
templates:
  zh: {checkin: "{name} {nope}", unknown_key: "x"}
surprise: 1
"""


# The first line after the built-in example, where tests append keys.
END = builtin_config_text().count("\n") + 1
# The example without its concern_window, for tests that append their own.
NO_WINDOW = builtin_config_text().replace("concern_window: 15m", "")


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "carecheck.yaml")
    return [str(p) for p in caught.value.problems]


def test_the_builtin_example_is_valid_and_means_what_it_says() -> None:
    config = parse_config(builtin_config_text())
    daily = config.plans["daily"]
    assert daily.reply_window == timedelta(minutes=60)
    assert daily.reminders == [timedelta(minutes=30)]
    assert daily.quiet_hours is not None and str(daily.quiet_hours.start) == "21:30:00"
    policy = config.escalation_policies["standard"]
    assert [s.notify.value for s in policy.steps] == ["grid_leader", "care_lead", "family"]
    assert policy.repeat == 2
    assert config.teams["supplies"].channel == "telegram:-1001234"


def test_every_problem_is_reported_with_its_key_path_and_line() -> None:
    found = problems(BAD)
    expected = [
        ("carecheck.yaml:1: timezone", "unknown timezone"),
        ("carecheck.yaml:4: plans.daily.schedule", "cron"),
        ("carecheck.yaml:5: plans.daily.reply_window", "unit"),
        ("carecheck.yaml:8: plans.daily.quiet_hours", "21:30-07:00"),
        ("carecheck.yaml:12: escalation_policies.standard.steps.0.notify", "responders"),
        ("carecheck.yaml:13: escalation_policies.standard.steps.1.wait", "duration"),
        ("carecheck.yaml:14: escalation_policies.standard.repeat", "greater than or equal"),
        ("carecheck.yaml:16: teams.medicine.channel", "telegram:"),
        ("carecheck.yaml:16: teams.medicine.handles.1", "medicine"),
        ("carecheck.yaml:19: surprise", "unknown key"),
    ]
    for where, what in expected:
        assert any(p.startswith(where) and what in p for p in found), (where, found)


def test_cross_references_are_checked_with_their_line() -> None:
    text = builtin_config_text().replace("escalation: standard", "escalation: gentle")
    (problem,) = problems(text)
    assert problem.startswith("carecheck.yaml:8: plans.daily.escalation")
    assert "gentle" in problem


def test_template_overrides_may_only_use_known_placeholders() -> None:
    text = builtin_config_text().replace("{name}，您好", "{nme}，早上好")
    (problem,) = problems(text)
    assert "templates.zh.checkin" in problem and "{nme}" in problem


def test_reminders_must_fall_inside_the_window() -> None:
    text = builtin_config_text().replace("reminders: [30m]", "reminders: [2h]")
    (problem,) = problems(text)
    assert "plans.daily" in problem and "inside the reply window" in problem


def test_broken_yaml_names_the_line() -> None:
    (problem,) = problems("plans:\n  daily: [unclosed\n")
    assert problem.startswith("carecheck.yaml:3") and "not valid YAML" in problem


def test_a_missing_file_falls_back_to_the_builtin_example(tmp_path: Path) -> None:
    _, source = load_config(tmp_path / "absent.yaml")
    assert source == "built-in example"


def test_config_check_exits_non_zero_and_lists_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD, encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        main(["config", "check", str(bad)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"{bad}:4: plans.daily.schedule" in err
    good = tmp_path / "good.yaml"
    good.write_text(builtin_config_text(), encoding="utf-8")
    assert main(["config", "check", str(good)]) == 0
    assert "OK" in capsys.readouterr().out


# --- optional keys -----------------------------------------------------------------


def test_help_words_concern_window_and_team_names_are_read() -> None:
    text = builtin_config_text().replace(
        'supplies: {channel: "telegram:-1001234", handles: [groceries]}',
        'supplies: {channel: "telegram:-1001234", handles: [groceries], name: 物资组}',
    )
    text = text.replace("concern_window: 15m", "concern_window: 30m")
    text += "help_words:\n  urgent: [救命, ' 快来人 ']\n  fine: [挺好]\n"
    config = parse_config(text)
    assert config.help_words == {"urgent": ("救命", "快来人"), "fine": ("挺好",)}
    assert config.concern_window == timedelta(minutes=30)
    assert config.teams["supplies"].display_name == "物资组"
    # A team without a name is shown by its key.
    assert config.teams["medicine"].display_name == "medicine"
    defaults = parse_config(builtin_config_text())
    assert defaults.help_words == {}
    assert defaults.concern_window == timedelta(minutes=15)


@pytest.mark.parametrize(
    ("extra", "where", "what"),
    [
        ("help_words:\n  urgnet: [x]\n", f":{END + 1}: help_words.urgnet", "unknown key"),
        ("help_words:\n  urgent: ['  ']\n", f":{END + 1}: help_words.urgent.0", "at least 1"),
        (
            "help_words:\n  urgent: [" + "长" * 41 + "]\n",
            f":{END + 1}: help_words.urgent.0",
            "at most 40",
        ),
        (
            "help_words:\n  urgent: [" + ",".join("x" * 201) + "]\n",
            f":{END + 1}: help_words.urgent",
            "200",
        ),
        ("help_words:\n  concern: [3]\n", f":{END + 1}: help_words.concern.0", "string"),
        ("help_words: [救命]\n", f":{END}: help_words", "dictionary"),
        ("concern_window: 0m\n", f":{END}: concern_window", "longer than zero"),
        ("concern_window: 25h\n", f":{END}: concern_window", "at most 24h"),
    ],
)
def test_bad_help_words_and_concern_windows_are_named_with_their_line(
    extra: str, where: str, what: str
) -> None:
    (problem,) = problems(NO_WINDOW + extra)
    assert problem.startswith("carecheck.yaml" + where) and what in problem, problem


def test_a_team_name_must_be_short_printable_text() -> None:
    for name in ('""', '"' + "组" * 65 + '"', '"药品\\n组"'):
        text = builtin_config_text().replace(
            "handles: [groceries]}", f"handles: [groceries], name: {name}}}"
        )
        (problem,) = problems(text)
        assert problem.startswith("carecheck.yaml:19: teams.supplies.name"), problem


# --- bad input is refused quickly, with its line -----------------------------------


@pytest.mark.parametrize(
    "template",
    ["{name:>999999999}", "{name!r}", "{name.__class__}", "{name[0]}", "{}", "{0}"],
)
def test_a_template_may_only_hold_bare_placeholders(template: str) -> None:
    text = builtin_config_text().replace("{name}，您好", template + "，您好")
    (problem,) = problems(text)
    assert problem.startswith("carecheck.yaml:21: templates.zh.checkin"), problem
    assert "only plain placeholders" in problem


def test_a_huge_duration_is_refused_clearly() -> None:
    for value in ("99999999999999d", "3651d", "9" * 5000 + "s"):
        text = builtin_config_text().replace("reply_window: 60m", f"reply_window: {value}")
        (problem,) = problems(text)
        assert problem.startswith("carecheck.yaml:6: plans.daily.reply_window"), problem
        assert "too long (at most 3650d)" in problem and len(problem) < 200


def billion_laughs(levels: int) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels + 1):
        aliases = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_once_with_the_line_of_the_alias() -> None:
    # Nine levels expand to 9**10 values: a loader that did not stop at the limit
    # would never return (or run out of memory) instead of failing this test.
    found = problems(billion_laughs(9))
    assert any(
        p.startswith("carecheck.yaml:") and "expand to more than 100,000 values" in p for p in found
    ), found


def test_too_many_aliases_are_refused() -> None:
    text = "a: &a x\nb: [" + ",".join(["*a"] * 101) + "]\n"
    (problem,) = problems(text)
    assert problem.startswith("carecheck.yaml:2") and "more than 100 aliases" in problem


def test_an_alias_to_itself_is_refused_not_a_recursion_error() -> None:
    (problem,) = problems("plans: &p [*p]\n")
    assert problem.startswith("carecheck.yaml:1: plans") and "deeper than 50" in problem


@pytest.mark.parametrize(
    "text",
    [
        "plans: " + "[" * 1000 + "]" * 1000 + "\n",
        "plans: " + "{a: " * 1000 + "1" + "}" * 1000 + "\n",
        "".join(" " * i + f"k{i}:\n" for i in range(200)) + " " * 200 + "x: 1\n",
    ],
)
def test_deep_nesting_is_refused_at_once_with_a_line(text: str) -> None:
    # Composed recursively, 1,000 levels would be a RecursionError, not this refusal.
    (problem,) = problems(text)
    assert problem.startswith("carecheck.yaml:") and "deeper than 50 levels" in problem
    assert problem.split(":")[1].isdigit()


def test_a_file_larger_than_256_kb_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(builtin_config_text() + "#" * 300_000 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(big)
    assert "at most 262,144 are accepted" in str(caught.value)
    with pytest.raises(ConfigError):
        parse_config(builtin_config_text() + "#" * 300_000)


def test_a_file_that_is_not_utf8_names_the_line_of_the_first_bad_byte(tmp_path: Path) -> None:
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes(builtin_config_text().replace("您好", "您好").encode("gbk"))
    with pytest.raises(ConfigError) as caught:
        load_config(gbk)
    (problem,) = caught.value.problems
    assert problem.line == 21 and "not UTF-8" in problem.message


def test_a_key_given_twice_is_refused() -> None:
    (problem,) = problems(builtin_config_text() + "timezone: UTC\n")
    assert problem.startswith(f"carecheck.yaml:{END}: timezone") and "first on line 2" in problem


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("!!python/object/apply:os.system [echo]", "not valid YAML"),
        ("!!binary 'abc'", "not valid YAML"),
        ("!!set {a: 1}", "the tag"),
        ("9" * 5000, "cannot read this value"),
        ("!!timestamp 2026-02-31", "cannot read this value"),
    ],
)
def test_values_yaml_cannot_build_are_problems_with_their_line(value: str, what: str) -> None:
    (problem,) = problems(builtin_config_text() + f"grids: {value}\n")
    assert problem.startswith(f"carecheck.yaml:{END}: grids") and what in problem, problem
    assert len(problem) < 300


def test_many_problems_are_summarised_after_the_first_fifty() -> None:
    found = problems(builtin_config_text() + "".join(f"k{i}: 1\n" for i in range(200)))
    assert len(found) == 51 and "150 more problem(s)" in found[-1]
