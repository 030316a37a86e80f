"""What a chaos run did and saw, kept for the check at the end (`chaos_check.py`).

The runner (`chaos.py`) fills a `RunRecord` while it plays Telegram and its users and
kills the gateway; nothing here talks to the gateway. Times are Unix seconds (the
gateway's database keeps the same), taken on this machine's one clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# Resident behaviours, one per resident and round, drawn from the seed.
BUTTON = "button"  # taps ✅ on the prompt inside the window
TEXT = "text"  # writes "我很好" inside the window
MEDIA = "media"  # sends a voice note or a sticker inside the window
HELP_TEXT = "help_text"  # writes "救命，我摔倒了" inside the window
HELP_BUTTON = "help_button"  # taps 🆘 inside the window
SILENT = "silent"  # never answers
LATE_BUTTON = "late_button"  # taps ✅ after the window closed
LATE_TEXT = "late_text"  # writes after the window closed

IN_TIME = (BUTTON, TEXT, MEDIA, HELP_TEXT, HELP_BUTTON)
# An answer's note when the prompt had no button left to tap and the resident wrote.
WROTE_INSTEAD = "no button to tap; wrote instead"
HELP = (HELP_TEXT, HELP_BUTTON)
LATE = (LATE_BUTTON, LATE_TEXT)
# Who acknowledges an alert (the rest walk every step and wait for the sweep).
GRID_LEADER = "grid_leader"
CARE_LEAD = "care_lead"


@dataclass(frozen=True)
class Timing:
    """A round's rhythm in whole seconds: the plan's reply window and reminder, each
    escalation step's wait, and when in the round the sweep closes what is left."""

    period: int
    window: int
    reminder: int
    step: int
    sweep: int
    # In-time answers come at least this long before the window closes, so that a
    # gateway restarting then (5-12 s on a busy machine) still has them in time.
    margin: int

    @classmethod
    def for_period(cls, minutes: int) -> Timing:
        period = minutes * 60
        return cls(
            period=period,
            window=round(period * 0.4),
            reminder=round(period * 0.2),
            step=max(5, round(period * 0.08)),
            sweep=period - max(6, round(period * 0.05)),
            margin=max(15, round(period * 0.12)),
        )


@dataclass(frozen=True)
class Resident:
    index: int
    name: str
    chat: int
    grid: int
    family_name: str | None
    family_chat: int | None
    matrix_id: str | None = None


@dataclass(frozen=True)
class Responder:
    name: str
    chat: int
    role: str
    grid: int


@dataclass(frozen=True)
class Behaviour:
    kind: str
    # Seconds after the prompt arrives (in time), or after the window closed (late).
    delay: float
    ack_by: str | None = None
    resolve: bool = False
    outcome: str = "ok"


@dataclass
class Send:
    """A message the Bot API server accepted (sendMessage answered 200)."""

    at: float
    chat: int
    text: str
    markup: str
    lost: bool  # accepted, but the connection dropped before the bot heard so
    message_id: int


@dataclass
class Answer:
    round: int
    resident: int
    kind: str
    at: float
    update_id: int  # Telegram
    note: str = ""
    event_id: str = ""  # Matrix


@dataclass
class ResponderAction:
    at: float
    chat: int
    kind: str  # ack, resolve, outcome, sweep
    alert: int
    update_id: int


@dataclass
class Kill:
    at: float
    kind: str
    detail: str
    integrity: str = ""
    ready_at: float | None = None


@dataclass
class MatrixEvent:
    """An event the bot put in a Matrix resident's room, as the homeserver keeps it."""

    room: str
    resident: int
    at: float
    kind: str  # m.room.message, m.reaction, …
    body: str  # a reaction's key
    relates: str  # "replace:<id>" (an edit), "react:<id>" (a reaction), or ""
    event_id: str


@dataclass
class RunRecord:
    db: Path
    seed: int
    timing: Timing
    residents: list[Resident]
    responders: list[Responder]
    round_times: list[float]
    behaviours: dict[tuple[int, int], Behaviour]
    sends: list[Send] = field(default_factory=list)
    # chat → message id → (text, labels of its buttons) as the user sees it at the end.
    final: dict[int, dict[int, tuple[str, tuple[str, ...]]]] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)
    actions: list[ResponderAction] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    matrix_events: list[MatrixEvent] = field(default_factory=list)
    # Matrix resident → every room they share with the bot (one is right).
    matrix_rooms: dict[int, list[str]] = field(default_factory=dict)
    started_at: float = 0.0
    stop_at: float = 0.0
    stopped_cleanly: bool = False
    notes: list[str] = field(default_factory=list)

    def downtime(self) -> list[tuple[float, float]]:
        """(from, to) of every span the gateway was not serving: kill → ready again."""
        spans = []
        for kill in self.kills:
            spans.append((kill.at, kill.ready_at if kill.ready_at is not None else self.stop_at))
        return spans

    def down_between(self, start: float, end: float) -> bool:
        return any(a <= end and b >= start for a, b in self.downtime())
