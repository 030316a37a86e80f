"""Prometheus metrics, in a registry of the application's own (no global state).

Counts that only grow are counters (`…_total`): a rate() over them survives a restart
of the gateway (the counter starts again, Prometheus sees the reset). Counts that go
up and down are gauges. Every series a dashboard or an alert rule may name is there
from the start, at 0, and stays at 0 rather than disappearing: `absent()` and
`increase()` both misread a series that comes and goes.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from core.commands import Priority
from core.records import CheckinState
from gateway.engine import Engine


class _Snapshot(Collector):
    """The families of one scrape, read from the store and the engine just before."""

    def __init__(self) -> None:
        self.families: list[CounterMetricFamily | GaugeMetricFamily] = []

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        yield from self.families


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._snapshot = _Snapshot()
        self.registry.register(self._snapshot)

    async def render(self, engine: Engine) -> bytes:
        async with engine.store.read() as tx:
            states = await tx.checkin_state_counts()
            open_alerts = await tx.open_alert_count()
            depth = await tx.outbox_depth()
            timers = await tx.count_timers()
            dead = await tx.dead_letter_counts()
        stats = engine.stats
        checkins = GaugeMetricFamily("carecheck_checkins", "Check-ins by state", labels=["state"])
        for state in CheckinState:
            checkins.add_metric([state.value], states.get(state.value, 0))
        alerts = GaugeMetricFamily("carecheck_open_alerts", "Alerts not yet resolved")
        alerts.add_metric([], open_alerts)
        outbox = GaugeMetricFamily(
            "carecheck_outbox_depth", "Messages waiting to be sent", labels=["platform", "priority"]
        )
        platforms = sorted({*engine.adapters, *(p for p, _ in depth)})
        for platform in platforms:
            for priority in Priority:
                count = depth.get((platform, int(priority)), 0)
                outbox.add_metric([platform, str(int(priority))], count)
        lags = sorted(stats.lags)
        lag = GaugeMetricFamily(
            "carecheck_deadline_lag_seconds",
            "Lag between a deadline and its firing (recent timers)",
            labels=["quantile"],
        )
        for q in (0.5, 0.99):
            lag.add_metric([str(q)], lags[int(q * (len(lags) - 1))] if lags else 0)
        pending = GaugeMetricFamily("carecheck_timers_pending", "Durable timers waiting")
        pending.add_metric([], timers)
        fired = CounterMetricFamily(
            "carecheck_timers_fired", "Timers fired since start", labels=["when"]
        )
        fired.add_metric(["on_time"], stats.timers_fired - stats.timers_late)
        fired.add_metric(["late"], stats.timers_late)
        events = CounterMetricFamily(
            "carecheck_inbound_events_handled",
            "Inbound events handled since start",
            labels=["result"],
        )
        events.add_metric(["ok"], stats.events_handled - stats.events_failed)
        events.add_metric(["failed"], stats.events_failed)
        # Read from the database: dead letters are never deleted, so their count only
        # grows and survives a restart. Every running platform shows, at 0 too.
        letters = CounterMetricFamily(
            "carecheck_dead_letters",
            "Inbound updates that could not be read and were set aside",
            labels=["platform"],
        )
        for platform, count in sorted({**dict.fromkeys(engine.adapters, 0), **dead}.items()):
            letters.add_metric([platform], count)
        self._snapshot.families = [
            checkins,
            alerts,
            outbox,
            lag,
            pending,
            fired,
            events,
            letters,
        ]
        return generate_latest(self.registry)
