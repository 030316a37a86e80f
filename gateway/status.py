"""Today's numbers per grid, for `carecheck status`, the dashboard and /metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.config import WorkflowConfig
from core.ports import Store, Tx
from gateway.platforms import PLATFORMS
from workflows import early_warning, outage
from workflows.early_warning import Flag
from workflows.privacy import last_retention
from workflows.texts import Texts

COLUMNS = ("pending", "answered", "reminded", "alerted", "help")


@dataclass(frozen=True)
class GridDay:
    grid: str
    pending: int
    answered: int
    reminded: int
    alerted: int
    help: int
    total: int


@dataclass(frozen=True)
class Away:
    """Someone away now: check-ins paused (a resident) or a deputy covering (a responder)."""

    name: str
    role: str
    grid: str
    until: str  # local to them, "2026-12-10 09:00"
    reason: str


@dataclass(frozen=True)
class Status:
    day: str
    grids: list[GridDay]
    open_alerts: int
    outbox_pending: int
    # What the chat platforms warn of (Matrix: rooms the bot cannot read).
    platform_notes: list[str]
    # Grids whose alerts would find no grid leader to tell.
    grids_without_leader: list[str] = field(default_factory=list)
    away: list[Away] = field(default_factory=list)
    # Early-warning flags (with the workflow file's rules), by grid and name.
    early_warning: list[Flag] = field(default_factory=list)
    # Platforms out today (the outage guard), one line each.
    outages: list[str] = field(default_factory=list)
    # What the daily retention job did last: when (ISO time) and its counts.
    retention: dict[str, int | str] = field(default_factory=dict)


def day_bounds(now: datetime, timezone: str) -> tuple[datetime, datetime, str]:
    local = now.astimezone(ZoneInfo(timezone))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1), start.date().isoformat()


async def today(
    store: Store, now: datetime, timezone: str, config: WorkflowConfig | None = None
) -> Status:
    """Today's numbers; with the workflow file, also its early-warning flags and the
    day's platform outages."""
    start, end, label = day_bounds(now, timezone)
    flags: list[Flag] = []
    outages: list[str] = []
    async with store.transaction() as tx:
        rows = await tx.day_counts(start, end)
        open_alerts = await tx.open_alert_count()
        depth = await tx.outbox_depth()
        leaderless = await tx.grids_without_reachable_leader()
        away = []
        for absence in await tx.away_at(now):
            person = await tx.person(absence.person_id)
            if person is not None:
                until = absence.until.astimezone(ZoneInfo(person.timezone))
                away.append(
                    Away(
                        person.name,
                        person.role,
                        person.grid or "-",
                        until.strftime("%Y-%m-%d %H:%M"),
                        absence.reason,
                    )
                )
        retention = last_retention(await tx.kv_get("retention.last"))
        state = _TxState(tx)
        notes = [note for p in PLATFORMS for note in await p.status_notes(state)]
        if config is not None:
            flags = await early_warning.flags(tx, config.early_warning, now, None)
            outages = [_outage(o, timezone) for o in await outage.during(tx, start, end)]
    grids = [
        GridDay(
            grid=str(r["grid"]) or "-",
            **{c: int(r[c] or 0) for c in COLUMNS},
            total=int(r["total"] or 0),
        )
        for r in rows
    ]
    done: dict[str, int | str] = {}
    if retention is not None:
        done = {"at": retention[0].astimezone(ZoneInfo(timezone)).isoformat(), **retention[1]}
    return Status(
        label,
        grids,
        open_alerts,
        sum(depth.values()),
        notes,
        leaderless,
        away,
        early_warning=flags,
        outages=outages,
        retention=done,
    )


class FlagCache:
    """Early-warning flags change by the day, not by the second: the console reads them
    again at most every `every` (of the gateway's clock), not at each refresh of the
    Today page (every answer refreshes it)."""

    def __init__(self, every: timedelta = timedelta(minutes=15)) -> None:
        self.every = every
        self._at: datetime | None = None
        self._flags: list[Flag] = []

    async def get(self, store: Store, config: WorkflowConfig, now: datetime) -> list[Flag]:
        if self._at is None or not self._at <= now < self._at + self.every:
            async with store.read() as tx:
                self._flags = await early_warning.flags(tx, config.early_warning, now, None)
            self._at = now
        return self._flags


def _outage(out: outage.Outage, timezone: str) -> str:
    since = out.since.astimezone(ZoneInfo(timezone)).strftime("%H:%M")
    until = out.ended.astimezone(ZoneInfo(timezone)).strftime("%H:%M") if out.ended else "still out"
    return (
        f"{outage.platform_label(out.platform)} out {since}–{until}: "
        f"{out.not_reached} residents not reached in that round"
    )


class _TxState:
    """The adapters' stored state, read inside the status transaction."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    async def get(self, key: str) -> str | None:
        return await self.tx.kv_get(key)

    async def set(self, key: str, value: str) -> None:
        await self.tx.kv_set(key, value)


def render_table(status: Status) -> str:
    header = ["grid", *COLUMNS, "total"]
    rows = [[g.grid, *(str(getattr(g, c)) for c in COLUMNS), str(g.total)] for g in status.grids]
    if rows:
        rows.append(
            [
                "TOTAL",
                *(str(sum(getattr(g, c) for g in status.grids)) for c in COLUMNS),
                str(sum(g.total for g in status.grids)),
            ]
        )
    widths = [max(_width(x) for x in col) for col in zip(header, *rows, strict=False)]
    lines = [f"check-ins on {status.day}"]
    for row in [header, *rows]:
        lines.append(
            "  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(row, widths, strict=True))
        )
    if not status.grids:
        lines.append("(no check-ins today yet)")
    lines.append(f"open alerts: {status.open_alerts}    outbox pending: {status.outbox_pending}")
    if status.away:
        lines.append(f"away: {len(status.away)}")
        for person in status.away:
            reason = f" ({person.reason})" if person.reason else ""
            lines.append(
                f"  {person.name}  {person.role}  {person.grid}  until {person.until}{reason}"
            )
    for grid in status.grids_without_leader:
        lines.append(
            f"warning: grid {grid or '-'} has no grid leader enrolled on a chat platform; "
            "its alerts go straight to the next step"
        )
    lines.extend(f"warning: {note}" for note in status.platform_notes)
    lines.extend(f"outage: {line}" for line in status.outages)
    texts = Texts()
    for flag in status.early_warning:
        lines.append(
            f"early warning [{flag.grid or '-'}]: {early_warning.describe(texts, 'en', flag)}"
        )
    lines.append(_retention_line(status.retention))
    return "\n".join(lines)


def _retention_line(done: dict[str, int | str]) -> str:
    if not done:
        return "retention: the daily job has not run yet"
    at = str(done["at"])[:16].replace("T", " ")
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in done.items() if k != "at")
    return f"retention (last run {at}): {counts}"


def _width(text: str) -> int:
    # CJK characters take two terminal columns.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
