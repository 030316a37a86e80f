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
    text = builtin_config_text().replace("{name}，早上好", "{nme}，早上好")
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
