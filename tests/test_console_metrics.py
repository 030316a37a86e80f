"""/metrics: counters for what only grows, every series present from the start at 0
and kept at 0, no login needed."""

from __future__ import annotations

from pathlib import Path

from core.console import WebRole
from tests.console_harness import running


async def test_counts_are_counters_and_series_stay_at_zero(tmp_path: Path) -> None:
    async for console in running(tmp_path):
        await console.add_user("ops", WebRole.OPERATOR)
        visitor = console.visitor()
        first = (await visitor.get("/metrics")).text
        for line in (
            "# TYPE carecheck_inbound_events_handled_total counter",
            'carecheck_inbound_events_handled_total{result="ok"} 0.0',
            'carecheck_inbound_events_handled_total{result="failed"} 0.0',
            "# TYPE carecheck_timers_fired_total counter",
            'carecheck_timers_fired_total{when="late"} 0.0',
            'carecheck_dead_letters_total{platform="test"} 0.0',
            'carecheck_checkins{state="help"} 0.0',
            'carecheck_checkins{state="sent"} 0.0',
            'carecheck_outbox_depth{platform="test",priority="0"} 0.0',
            "carecheck_open_alerts 0.0",
        ):
            assert line in first, line
        await console.engine.start_round()
        await console.say("王秀英", "我很好")
        second = (await visitor.get("/metrics")).text
        assert 'carecheck_checkins{state="ok"} 1.0' in second
        assert 'carecheck_checkins{state="sent"} 2.0' in second
        assert 'carecheck_inbound_events_handled_total{result="ok"} 1.0' in second
        # Everything sent: the queue is empty again, and says so rather than vanishing.
        assert 'carecheck_outbox_depth{platform="test",priority="2"} 0.0' in second
