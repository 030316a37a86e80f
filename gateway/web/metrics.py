"""Prometheus metrics, in a registry of the application's own (no global state)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from gateway.engine import Engine


class _DeadLetters(Collector):
    """A counter read from the database: dead letters are never deleted, so their
    count only grows, and it survives a restart."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "carecheck_dead_letters",
            "Inbound updates that could not be read and were set aside",
            labels=["platform"],
        )
        for platform, count in sorted(self.counts.items()):
            family.add_metric([platform], count)
        yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.checkins = Gauge(
            "carecheck_checkins", "Check-ins by state", ["state"], registry=self.registry
        )
        self.open_alerts = Gauge(
            "carecheck_open_alerts", "Alerts not yet resolved", registry=self.registry
        )
        self.outbox = Gauge(
            "carecheck_outbox_depth",
            "Messages waiting to be sent",
            ["platform", "priority"],
            registry=self.registry,
        )
        self.lag = Gauge(
            "carecheck_deadline_lag_seconds",
            "Lag between a deadline and its firing",
            ["quantile"],
            registry=self.registry,
        )
        self.timers = Gauge(
            "carecheck_timers_pending", "Durable timers waiting", registry=self.registry
        )
        self.late = Gauge(
            "carecheck_timers_fired_late", "Timers fired late since start", registry=self.registry
        )
        self.events = Gauge(
            "carecheck_inbound_events_handled",
            "Inbound events handled",
            ["result"],
            registry=self.registry,
        )
        self.dead_letters = _DeadLetters()
        self.registry.register(self.dead_letters)

    async def render(self, engine: Engine) -> bytes:
        async with engine.store.transaction() as tx:
            states = await tx.checkin_state_counts()
            open_alerts = await tx.open_alert_count()
            depth = await tx.outbox_depth()
            timers = await tx.count_timers()
            dead = await tx.dead_letter_counts()
        self.checkins.clear()
        for state, count in states.items():
            self.checkins.labels(state=state).set(count)
        self.open_alerts.set(open_alerts)
        self.outbox.clear()
        for (platform, priority), count in depth.items():
            self.outbox.labels(platform=platform, priority=str(priority)).set(count)
        lags = sorted(engine.stats.lags)
        for q in (0.5, 0.99):
            self.lag.labels(quantile=str(q)).set(lags[int(q * (len(lags) - 1))] if lags else 0)
        self.timers.set(timers)
        self.late.set(engine.stats.timers_late)
        self.events.labels(result="ok").set(
            engine.stats.events_handled - engine.stats.events_failed
        )
        self.events.labels(result="failed").set(engine.stats.events_failed)
        # Every running platform shows, at 0 too: an alert rule on an increase needs
        # the series to exist before the first dead letter.
        self.dead_letters.counts = {**dict.fromkeys(engine.adapters, 0), **dead}
        return generate_latest(self.registry)
