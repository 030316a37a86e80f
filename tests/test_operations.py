"""What operators rely on: status, the simulator, logs, start-up refusals, delivery order."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.base import Rate, RateLimits
from core.commands import Priority
from core.config import WorkflowConfig
from core.ids import chat_ref
from core.outbox import NewMessage
from gateway.cli import main
from gateway.clock import FakeClock, ScaledClock
from gateway.logs import JsonFormatter
from gateway.outbox import OutboxWorker
from gateway.ratelimit import Limiter
from gateway.settings import Settings
from gateway.simulate import SimulationParams, simulate
from store.sqlite import Store
from tests.conftest import Harness
from tests.fakes import RecordingAdapter

MIN = timedelta(minutes=1)


async def test_status_counts_todays_checkins_per_grid(harness: Harness, tmp_path: Path) -> None:
    from gateway.status import render_table, today

    await harness.advance(30 * MIN)
    await harness.say("Wang", "好")
    await harness.advance(31 * MIN)  # reminder for Chen
    status = await today(harness.store, harness.clock.now(), "Asia/Shanghai")
    (grid,) = status.grids
    assert (grid.grid, grid.pending, grid.answered, grid.reminded, grid.total) == ("G1", 1, 1, 1, 2)
    await harness.say("Chen", "help me please")
    status = await today(harness.store, harness.clock.now(), "Asia/Shanghai")
    assert status.grids[0].help == 1 and status.open_alerts == 1
    table = render_table(status)
    assert "G1" in table and "open alerts: 1" in table


def test_the_status_command_prints_a_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARECHECK_DB", str(tmp_path / "s.db"))
    monkeypatch.setenv("CARECHECK_CONFIG", str(tmp_path / "absent.yaml"))
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "check-ins on" in out and "open alerts: 0" in out
    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["open_alerts"] == 0


async def test_the_simulator_runs_the_real_workflows_and_adds_up(
    config: WorkflowConfig,
) -> None:
    report = await simulate(config, SimulationParams(residents=60, days=2, answer_rate=0.8, seed=3))
    assert report["checkins_sent"] == 120
    answered = report["answered_within_window"] + report["answered_after_reminder"]
    assert answered + report["missed"] == 120
    assert 0 < report["missed"] < 60
    assert report["alerts_opened"] >= 1
    acked = sum(report["alerts_acknowledged_at_step"].values())
    assert acked + report["alerts_never_acknowledged"] == report["alerts_opened"]
    again = await simulate(config, SimulationParams(residents=60, days=2, answer_rate=0.8, seed=3))
    assert {k: v for k, v in again.items() if k != "wall_seconds"} == {
        k: v for k, v in report.items() if k != "wall_seconds"
    }


def test_simulate_prints_json_for_machines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CARECHECK_CONFIG", str(tmp_path / "absent.yaml"))
    assert main(["simulate", "--residents", "20", "--days", "1", "--seed", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["checkins_sent"] == 20


def test_run_refuses_a_bad_workflow_file_before_touching_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "carecheck.yaml"
    bad.write_text("plans: {}\n", encoding="utf-8")
    db = tmp_path / "never.db"
    monkeypatch.setenv("CARECHECK_DB", str(db))
    monkeypatch.setenv("CARECHECK_CONFIG", str(bad))
    with pytest.raises(SystemExit) as exited:
        main(["run"])
    assert exited.value.code == 2
    assert f"{bad}:1: plans" in capsys.readouterr().err
    assert not db.exists()


def test_a_bad_setting_is_named_without_echoing_its_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARECHECK_WEB_PORT", "not-a-port-s3cret")
    with pytest.raises(SystemExit) as exited:
        main(["status"])
    message = str(exited.value.code)
    assert "CARECHECK_WEB_PORT" in message and "s3cret" not in message


def test_secrets_do_not_show_in_settings_or_their_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARECHECK_TELEGRAM_TOKEN", "123:very-secret-token")
    monkeypatch.setenv("CARECHECK_MATRIX_PASSWORD", "hunter2-secret")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.telegram_enabled
    shown = repr(settings) + str(settings.model_dump())
    assert "very-secret-token" not in shown and "hunter2-secret" not in shown


def test_json_logs_are_one_object_per_line() -> None:
    record = logging.LogRecord(
        "carecheck", logging.INFO, __file__, 1, "round %s opened", ("daily",), None
    )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line)["msg"] == "round daily opened"


def test_the_demo_clock_runs_faster_than_real_time() -> None:
    clock = ScaledClock(60)
    assert clock.real_seconds(timedelta(minutes=30)) == 30
    fake = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    assert fake.real_seconds(timedelta(0)) == 0


async def test_alerts_are_sent_before_routine_prompts(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    adapter = RecordingAdapter(limits=RateLimits(max_in_flight=1))
    async with Store(tmp_path / "o.db") as store:
        async with store.transaction() as tx:
            for n in range(5):
                await tx.enqueue(
                    "test",
                    NewMessage(chat_ref("test", n), f"prompt {n}", Priority.ROUTINE),
                    clock.now(),
                )
            await tx.enqueue(
                "test", NewMessage(chat_ref("test", 99), "ALERT", Priority.ALERT), clock.now()
            )

        async def failed(*_: object) -> None:
            raise AssertionError("nothing should fail")

        worker = OutboxWorker(store, clock, adapter, failed)
        await worker.drain()
    assert adapter.sent[0].text == "ALERT"
    assert len(adapter.sent) == 6


def test_the_limiter_keeps_overall_and_per_chat_rates_without_bursts() -> None:
    now = [0.0]
    limiter = Limiter(
        Rate(30, 1.0),
        Rate(1, 1.0),
        Rate(20, 60.0),
        lambda c: c.startswith("-"),
        monotonic=lambda: now[0],
    )
    assert limiter.chat_wait("a") == 0
    limiter.take("a")
    assert limiter.chat_wait("a") == pytest.approx(1.02)
    # Sends are spread out: the next may go only after 0.7/30 s.
    assert limiter.overall_wait() == pytest.approx(0.7 / 30)
    sent = 1
    for _ in range(1000):  # one simulated second of sending as fast as allowed
        wait = limiter.overall_wait()
        if now[0] + wait > 1.0:
            break
        now[0] += wait
        limiter.take(f"c{sent}")
        sent += 1
    assert sent == 30  # never more than 30 in any window
    for _ in range(20):
        limiter.take("-100")
    assert limiter.chat_wait("-100") > 59
    limiter.pause(7)
    assert limiter.overall_wait() == pytest.approx(7, rel=0.01)


def test_needs_export_writes_the_table_header_even_when_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARECHECK_DB", str(tmp_path / "n.db"))
    monkeypatch.setenv("CARECHECK_CONFIG", str(tmp_path / "absent.yaml"))
    assert main(["needs", "export"]) == 0
    assert capsys.readouterr().out.startswith("id,created_at,resident,grid,building,phone,kind")
