"""Prometheus metrics, in a registry of the application's own (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from gateway.engine import Engine


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

    async def render(self, engine: Engine) -> bytes:
        async with engine.store.transaction() as tx:
            states = await tx.checkin_state_counts()
            open_alerts = await tx.open_alert_count()
            depth = await tx.outbox_depth()
            timers = await tx.count_timers()
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
        return generate_latest(self.registry)
