"""`carecheck needs export`: the needs table the care team keeps, as CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from core.ports import Store
from gateway.textfiles import spreadsheet_safe

COLUMNS = [
    "id",
    "created_at",
    "resident",
    "grid",
    "building",
    "phone",
    "kind",
    "text",
    "team",
    "state",
    "created_by",
    "claimed_by",
    "claimed_at",
    "closed_by",
    "closed_at",
    "history",
]


async def export_needs(store: Store, timezone: str) -> str:
    async with store.read() as tx:
        rows = await tx.needs_export_rows()
    zone = ZoneInfo(timezone)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        for key in ("created_at", "claimed_at", "closed_at"):
            value = row.get(key)
            row[key] = (
                datetime.fromtimestamp(value, zone).strftime("%Y-%m-%d %H:%M")
                if value is not None
                else ""
            )
        # Needs carry what residents and volunteers typed: a spreadsheet must show it,
        # never run it.
        writer.writerow(
            {c: "" if row.get(c) is None else spreadsheet_safe(str(row[c])) for c in COLUMNS}
        )
    return out.getvalue()
