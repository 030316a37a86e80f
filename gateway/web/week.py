"""The week (`/week`): the answer rate per grid per day, and how long alerts waited
for someone to acknowledge them, as SVG drawn on the server (no script, prints well).

An answer is any sign of life to a check-in: "I'm fine" and "I need help" alike.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from aiohttp import web
from markupsafe import Markup

from gateway.web.deps import DEPS
from gateway.web.principal import principal
from gateway.web.render import Labels, labels, page

DAYS = 7
LABEL_W, CELL_W, CELL_H, HEAD_H = 92, 40, 36, 30
# Above each grid's row of the rate chart: its name, in at most this many characters.
NAME_H, NAME_CHARS = 22, 20


@dataclass(frozen=True)
class GridDays:
    grid: str
    rates: list[tuple[int, int]]  # (answered, asked) per day


def _colour(answered: int, asked: int) -> tuple[str, str]:
    """Fill and text colour for a rate: red below 70 %, amber below 90 %, green above."""
    if asked == 0:
        return "#e9edf1", "#3d4650"
    rate = answered / asked
    if rate < 0.7:
        return "#a3141a", "#ffffff"
    if rate < 0.9:
        return "#ffe4a8", "#4a3000"
    return "#d3f0dc", "#0d4a22"


def rate_svg(grids: list[GridDays], days: list[date], t: Labels) -> Markup:
    # A grid's name is written above its row, across the whole chart, so that a phone's
    # narrow screen cuts none of it short; a name too long even for that ends in "…"
    # (each cell's title holds the whole name).
    width = CELL_W * len(days)
    pitch = NAME_H + CELL_H
    height = HEAD_H + pitch * max(len(grids), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(t("week_rate"))}">'
    ]
    for i, day in enumerate(days):
        x = CELL_W * i + CELL_W / 2
        parts.append(
            f'<text x="{x}" y="20" font-size="13" text-anchor="middle" fill="#2b333b">'
            f"{day.month}/{day.day}</text>"
        )
    for row, grid in enumerate(grids):
        y = HEAD_H + pitch * row
        name = grid.grid or "-"
        if len(name) > NAME_CHARS:
            name = name[: NAME_CHARS - 1] + "…"
        parts.append(
            f'<text x="2" y="{y + NAME_H - 6}" font-size="14" font-weight="600" fill="#111">'
            f"{escape(name)}</text>"
        )
        y += NAME_H
        for i, (answered, asked) in enumerate(grid.rates):
            fill, ink = _colour(answered, asked)
            x = CELL_W * i
            shown = f"{round(100 * answered / asked)}" if asked else "–"
            title = t("week_cell", grid=grid.grid or "-", answered=answered, asked=asked)
            parts.append(
                f"<g><title>{escape(title)}</title>"
                f'<rect x="{x + 1}" y="{y + 1}" width="{CELL_W - 2}" height="{CELL_H - 2}" '
                f'rx="4" fill="{fill}"/>'
                f'<text x="{x + CELL_W / 2}" y="{y + CELL_H / 2 + 5}" font-size="14" '
                f'text-anchor="middle" fill="{ink}" font-weight="700">{shown}</text></g>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def ack_svg(per_day: list[tuple[float | None, int, int]], days: list[date], t: Labels) -> Markup:
    """Bars of the median minutes to acknowledge, with (acknowledged, opened) below."""
    top, bar_h, foot = 24, 120, 40
    width = LABEL_W + CELL_W * len(days)
    height = top + bar_h + foot
    longest = max((m for m, _, _ in per_day if m is not None), default=0.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(t("week_ack"))}">',
        f'<text x="4" y="{top + 12}" font-size="13" fill="#2b333b">{escape(t("minutes"))}</text>',
        f'<line x1="{LABEL_W}" y1="{top + bar_h}" x2="{width}" y2="{top + bar_h}" '
        'stroke="#69737d"/>',
    ]
    for i, ((median, acked, opened), day) in enumerate(zip(per_day, days, strict=True)):
        x = LABEL_W + CELL_W * i
        if median is not None:
            h = max(2.0, bar_h * median / longest)
            parts.append(
                f'<rect x="{x + 8}" y="{top + bar_h - h}" width="{CELL_W - 16}" height="{h}" '
                f'fill="#14503f"><title>{escape(t("week_ack_cell", minutes=round(median)))}'
                "</title></rect>"
                f'<text x="{x + CELL_W / 2}" y="{top + bar_h - h - 4}" font-size="13" '
                f'text-anchor="middle" fill="#111">{round(median)}</text>'
            )
        parts.append(
            f'<text x="{x + CELL_W / 2}" y="{top + bar_h + 17}" font-size="13" '
            f'text-anchor="middle" fill="#2b333b">{day.month}/{day.day}</text>'
            f'<text x="{x + CELL_W / 2}" y="{top + bar_h + 34}" font-size="12" '
            f'text-anchor="middle" fill="{"#a3141a" if acked < opened else "#3d4650"}">'
            f"{acked}/{opened}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


async def week(request: web.Request) -> web.Response:
    who = principal(request)
    t = labels(request)
    engine = request.app[DEPS].engine
    zone = ZoneInfo(engine.config.timezone)
    today = engine.clock.now().astimezone(zone).date()
    days = [today - timedelta(days=DAYS - 1 - n) for n in range(DAYS)]
    starts = [datetime.combine(d, datetime.min.time(), zone) for d in days]
    counts: dict[str, list[tuple[int, int]]] = {}
    async with engine.store.read() as tx:
        for i, start in enumerate(starts):
            for row in await tx.day_counts(start, start + timedelta(days=1)):
                grid = str(row["grid"])
                if not who.sees(grid):
                    continue
                answered = int(row["answered"] or 0) + int(row["help"] or 0)
                rates = counts.setdefault(grid, [(0, 0)] * DAYS)
                rates[i] = (answered, int(row["total"] or 0))
        acks = await tx.ack_times(who.grids, starts[0])
    grids = [GridDays(grid, rates) for grid, rates in sorted(counts.items())]
    per_day: list[tuple[float | None, int, int]] = []
    for day in days:
        opened = [a for a in acks if a.opened_at.astimezone(zone).date() == day]
        waits = [(a.acked_at - a.opened_at).total_seconds() / 60 for a in opened if a.acked_at]
        median = statistics.median(waits) if waits else None
        per_day.append((median, len(waits), len(opened)))
    asked = sum(a for g in grids for _, a in g.rates)
    answered = sum(a for g in grids for a, _ in g.rates)
    return page(
        request,
        "week.html",
        {
            "rate_chart": rate_svg(grids, days, t),
            "ack_chart": ack_svg(per_day, days, t),
            "asked": asked,
            "answered": answered,
            "percent": round(100 * answered / asked) if asked else None,
            "first": days[0].isoformat(),
            "last": days[-1].isoformat(),
        },
    )


def routes() -> list[web.RouteDef]:
    return [web.get("/week", week)]
