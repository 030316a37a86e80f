"""The simulator's figures: the same for a seed however the work is split or ordered."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.commands import Button, Delivery
from core.config import WorkflowConfig
from core.ids import OutboxId, chat_ref
from gateway import simulate as simulate_module
from gateway.clock import FakeClock
from gateway.simulate import (
    PLATFORM,
    SimulatedPopulation,
    SimulationParams,
    default_jobs,
    simulate,
    split_street,
)


async def test_it_reports_the_same_whether_the_street_runs_in_one_process_or_several(
    config: WorkflowConfig,
) -> None:
    params = SimulationParams(residents=200, days=2, answer_rate=0.8, seed=5)
    alone = await simulate(config, params, jobs=1)
    split = await simulate(config, params, jobs=2)
    assert alone["alerts_opened"] > 0 and sum(alone["alerts_acknowledged_at_step"].values()) > 0
    assert {k: v for k, v in split.items() if k != "wall_seconds"} == {
        k: v for k, v in alone.items() if k != "wall_seconds"
    }


async def test_it_reports_the_early_warning_flags_standing_at_the_end(
    config: WorkflowConfig,
) -> None:
    params = SimulationParams(residents=80, days=8, answer_rate=0.6, seed=3)
    report = await simulate(config, params, jobs=1)
    flags = report["early_warning_flags"]
    assert set(flags) == {"missed", "late", "drift", "no_contact"}
    # Answering three days in five, many miss two in a week; nobody goes 90 days unseen.
    assert flags["missed"] > 0 and flags["no_contact"] == 0
    assert f"missed {flags['missed']}, late {flags['late']}" in simulate_module.render_report(
        report
    )


def test_it_splits_a_street_into_blocks_of_whole_grids() -> None:
    params = SimulationParams(residents=1000, residents_per_grid=40)
    blocks = split_street(params, 3)
    assert sum(count for _, count in blocks) == 1000
    assert [first for first, _ in blocks] == [0, 320, 640]
    assert all(first % 40 == 0 for first, _ in blocks)
    # Never more blocks than grids, nor an empty one.
    assert split_street(SimulationParams(residents=50, residents_per_grid=40), 8) == [
        (0, 40),
        (40, 10),
    ]


def test_a_small_street_runs_in_one_process() -> None:
    assert default_jobs(SimulationParams(residents=100)) == 1


def _prompt(n: int, user: str, checkin: int) -> Delivery:
    token = f"ok.{checkin}..{n}.sig"
    return Delivery(
        outbox_id=OutboxId(n),
        chat=chat_ref(PLATFORM, user),
        text="?",
        buttons=((Button("ok", token), Button("help", f"hlp.{checkin}..{n}.sig")),),
    )


def _read(population: SimulatedPopulation, delivery: Delivery) -> None:
    reader = population.adapter.on_deliver
    assert reader is not None
    reader(delivery)


def test_people_answer_the_same_whatever_order_their_prompts_arrive_in() -> None:
    params = SimulationParams(answer_rate=0.5, seed=9)
    clock = FakeClock(datetime(2026, 1, 5, 1, 0, tzinfo=UTC))
    prompts = [_prompt(n, f"resident-{n}", 100 + n) for n in range(200)]
    first, second = SimulatedPopulation(params, clock), SimulatedPopulation(params, clock)
    for delivery in prompts:
        _read(first, delivery)
    for delivery in reversed(prompts):
        _read(second, delivery)
    assert 60 < len(first.pending) < 140
    assert sorted(first.pending) == sorted(second.pending)
    # Check-in ids differ between databases; who answers and when does not.
    other_ids = SimulatedPopulation(params, clock)
    for n in range(len(prompts)):
        _read(other_ids, _prompt(n, f"resident-{n}", 5000 + n))
    assert [(p.at, p.user) for p in sorted(other_ids.pending)] == [
        (p.at, p.user) for p in sorted(first.pending)
    ]


async def test_a_block_that_dies_stops_the_simulation_and_the_other_blocks(
    config: WorkflowConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(simulate_module, "_scratch", lambda residents, days: str(tmp_path))
    run = asyncio.create_task(
        simulate(config, SimulationParams(residents=400, days=60, seed=2), jobs=2)
    )
    for _ in range(600):
        blocks = [
            p for p in multiprocessing.active_children() if p.name.startswith("carecheck-simulate")
        ]
        if len(blocks) == 2:
            break
        await asyncio.sleep(0.05)
    assert len(blocks) == 2
    assert len(os.listdir(tmp_path)) == 2  # each block's database directory
    await asyncio.sleep(1.0)
    assert blocks[0].pid is not None
    os.kill(blocks[0].pid, signal.SIGKILL)
    with pytest.raises(RuntimeError, match="ended with exit code -9 before it was done"):
        await run
    assert not any(p.is_alive() for p in blocks)
    # Their databases went with them, the killed block's too.
    assert os.listdir(tmp_path) == []


_PARENT = """
import asyncio, sys
from gateway import simulate
from gateway.config import builtin_config_text, parse_config
simulate._scratch = lambda residents, days: sys.argv[1]
params = simulate.SimulationParams(residents=400, days=365, seed=3)
asyncio.run(simulate.simulate(parse_config(builtin_config_text()), params, jobs=2))
"""


async def test_blocks_whose_simulation_was_killed_stop_and_clean_up(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _PARENT, str(scratch), cwd=Path(__file__).parent.parent
    )
    try:
        for _ in range(600):
            if len(os.listdir(scratch)) == 2:
                break
            await asyncio.sleep(0.05)
        assert len(os.listdir(scratch)) == 2
        await asyncio.sleep(2.0)  # the blocks are under way
    finally:
        parent.kill()
        await parent.wait()
    # Each block sees at the end of its next simulated day that nobody waits for it.
    for _ in range(600):
        if not os.listdir(scratch):
            break
        await asyncio.sleep(0.05)
    assert os.listdir(scratch) == []


async def test_it_reports_call_tasks_proxy_answers_and_days_away_the_same_in_any_split(
    config: WorkflowConfig,
) -> None:
    params = SimulationParams(
        residents=120, days=3, answer_rate=0.8, seed=3, phone_share=0.2, away_rate=0.05
    )
    alone = await simulate(config, params, jobs=1)
    split = await simulate(config, params, jobs=2)
    assert {k: v for k, v in split.items() if k != "wall_seconds"} == {
        k: v for k, v in alone.items() if k != "wall_seconds"
    }
    # About 24 residents are phoned, three rounds, less those away.
    assert 40 < alone["call_tasks_sent"] < 90
    assert alone["proxy_answers_by_phone"] > 0 and alone["calls_unanswered"] > 0
    assert 5 < alone["away_days"] < 60
    # Nobody is asked while away: fewer check-ins than residents × rounds.
    assert alone["checkins_sent"] < 120 * 3


async def test_without_phones_or_time_away_it_reports_none(config: WorkflowConfig) -> None:
    report = await simulate(config, SimulationParams(residents=40, days=1), jobs=1)
    assert (report["call_tasks_sent"], report["away_days"]) == (0, 0.0)
