"""The check at the end of a chaos run: what should have happened, resident by resident
and round by round, against what did — the Bot API server's record of every message
and edit, and the gateway's database (read-only, after it stopped).

Every expectation is derived from the residents' scripted behaviour and the workflow's
rhythm. Where a kill or a restart makes the order of two things a matter of chance (an
acknowledgement queued while the gateway was down, and the step due meanwhile), either
outcome is accepted; everything else must be exact.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.chaos_record import (
    CARE_LEAD,
    GRID_LEADER,
    HELP,
    IN_TIME,
    LATE,
    LATE_TEXT,
    MEDIA,
    SILENT,
    TEXT,
    WROTE_INSTEAD,
    RunRecord,
    Send,
)
from benchmarks.chaos_texts import Classifier

EVENT_PREFIX = "tg:"
# Seconds either side of a due time within which two things may come in either order.
TOLERANCE = 2.0
# A deadline that fires this much after it was due counts as late (not lost).
LATE_AFTER = 10.0
DETAILS = 25
NOTES = {
    "reminders": "either count is right where a restart made the order a matter of chance",
    "prompts edited after the answer": (
        "extra: a copy accepted while its answer was lost, which the gateway cannot edit"
    ),
    "alert copies up to date at the end": (
        "extra: a copy accepted while its answer was lost, which the gateway cannot edit"
    ),
    'false "no answer" alerts': (
        "late: the answer reached the inbox only after the deadline (down, or not polling)"
    ),
    "answers recorded (in the window)": "late: recorded after the window closed",
    "outbox: every message delivered": "late: still being retried when the run ended",
    "check-ins opened at the round's time": "late: opened after a restart",
    "late answers: alert called off": "extra: the alert had been closed before the answer",
}


@dataclass
class Row:
    name: str
    expected: int = 0
    ok: int = 0
    lost: int = 0
    doubled: int = 0
    late: int = 0
    extra: int = 0
    note: str = ""


@dataclass
class Report:
    rows: list[Row]
    targets: list[tuple[str, str, bool]]
    details: list[str]
    figures: dict[str, Any]
    wall_seconds: float = 0.0
    # What the run saw (messages, answers, actions, kills), for --keep.
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return sum(r.lost for r in self.rows)

    @property
    def passed(self) -> bool:
        return all(met for _, _, met in self.targets)

    def render(self) -> str:
        f = self.figures
        lines = [
            f"chaos run: {f['residents']:,} residents, {f['rounds']} round(s), "
            f"{f['kills']} kills, {f['sends']:,} messages accepted, "
            f"{f['faults_total']:,} platform faults injected ({f['fault_share']:.1%} of calls)",
            "",
            "| check | expected | ok | lost | doubled | late | extra | note |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r.name} | {r.expected:,} | {r.ok:,} | {r.lost} | {r.doubled} | "
                f"{r.late} | {r.extra} | {r.note} |"
            )
        lines += ["", "| target | measured | met |", "|---|---|---|"]
        for name, measured, met in self.targets:
            lines.append(f"| {name} | {measured} | {'yes' if met else '**no**'} |")
        lines.append("")
        total = sum(r.expected for r in self.rows)
        if self.lost == 0:
            lines.append(f"zero loss: yes — 0 lost of {total:,} expected")
        else:
            lines.append(f"zero loss: NO — {self.lost} lost of {total:,} expected")
        if self.details:
            lines += ["", "findings (first of each kind):"]
            lines += [f"- {d}" for d in self.details]
        return "\n".join(lines)

    def summary(self) -> dict[str, Any]:
        return {
            "figures": self.figures,
            "rows": [r.__dict__ for r in self.rows],
            "targets": [{"target": n, "measured": m, "met": ok} for n, m, ok in self.targets],
            "details": self.details,
            "lost": self.lost,
            "passed": self.passed,
            "wall_seconds": round(self.wall_seconds, 1),
        }


@dataclass
class Db:
    people: dict[int, sqlite3.Row]
    by_name: dict[str, int]
    identities: dict[str, int]  # telegram chat id (text) → person id
    checkins: dict[int, list[sqlite3.Row]]  # person id → check-ins
    alerts: list[sqlite3.Row]
    notifications: dict[int, list[sqlite3.Row]]
    outbox: list[sqlite3.Row]
    inbox: dict[str, sqlite3.Row]
    timers: list[sqlite3.Row]


def load(record: RunRecord) -> Db:
    conn = sqlite3.connect(f"file:{record.db}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        people = {r["id"]: r for r in conn.execute("SELECT * FROM people")}
        identities = {
            r["address"]: r["person_id"]
            for r in conn.execute("SELECT * FROM identities WHERE platform = 'telegram'")
        }
        checkins: dict[int, list[sqlite3.Row]] = defaultdict(list)
        for row in conn.execute("SELECT * FROM checkins ORDER BY id"):
            checkins[row["person_id"]].append(row)
        alerts = list(conn.execute("SELECT * FROM alerts ORDER BY id"))
        notifications: dict[int, list[sqlite3.Row]] = defaultdict(list)
        for row in conn.execute("SELECT * FROM alert_notifications"):
            notifications[row["alert_id"]].append(row)
        outbox = list(conn.execute("SELECT * FROM outbox ORDER BY id"))
        inbox = {r["event_id"]: r for r in conn.execute("SELECT * FROM inbox")}
        timers = list(conn.execute("SELECT * FROM timers"))
    finally:
        conn.close()
    return Db(
        people=people,
        by_name={r["name"]: pid for pid, r in people.items()},
        identities=identities,
        checkins=checkins,
        alerts=alerts,
        notifications=notifications,
        outbox=outbox,
        inbox=inbox,
        timers=timers,
    )


class Findings:
    """Concrete examples, a few of each kind, for the report."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.kinds: Counter[str] = Counter()

    def add(self, kind: str, text: str) -> None:
        self.kinds[kind] += 1
        if self.kinds[kind] <= 3 and len(self.items) < DETAILS:
            self.items.append(f"{kind}: {text}")


def check(record: RunRecord, texts: Classifier) -> Report:
    return Checker(record, texts).run()


class Checker:
    def __init__(self, record: RunRecord, texts: Classifier) -> None:
        self.r = record
        self.t = texts
        self.db = load(record)
        self.find = Findings()
        self.timing = record.timing
        self.rows: dict[str, Row] = {}
        # Per chat, what the bot sent — without the second copy of a message whose first
        # was accepted while its answer was lost: Telegram has no idempotency key, so
        # that copy cannot be avoided (it is counted on its own, by `duplicates`).
        self.all_sends: dict[int, list[Send]] = defaultdict(list)
        self.sends: dict[int, list[Send]] = defaultdict(list)
        for send in sorted(record.sends, key=lambda s: s.at):
            self.all_sends[send.chat].append(send)
        for chat, sends in self.all_sends.items():
            # key → position in the list of a copy whose answer was lost: its retry
            # takes its place (the retry is the copy the gateway knows of).
            lost_before: dict[tuple[str, str], int] = {}
            kept = self.sends[chat]
            for send in sends:
                key = (send.text, send.markup)
                where = lost_before.pop(key, None)
                if where is not None and send.at - kept[where].at < record.timing.period / 2:
                    kept[where] = send
                    if send.lost:  # lost again: the next copy is a retry as well
                        lost_before[key] = where
                    continue
                if send.lost:
                    lost_before[key] = len(kept)
                kept.append(send)
        # Messages the gateway never learnt it had sent — accepted while the answer was
        # lost, or sent just before a kill and not yet recorded — so it cannot edit them
        # later: their buttons stay. Each is counted by its cause, not as a lost edit.
        known = {
            (int(row["chat"].partition(":")[2]), int(row["platform_message_id"]))
            for row in self.db.outbox
            if row["platform"] == "telegram" and (row["platform_message_id"] or "").isdigit()
        }
        self.lost_ids = {(s.chat, s.message_id) for s in record.sends if s.lost}
        self.orphans = {
            (s.chat, s.message_id) for s in record.sends if (s.chat, s.message_id) not in known
        }
        self.orphan_causes: Counter[str] = Counter()
        self.reminder_rows: dict[int, list[sqlite3.Row]] = defaultdict(list)
        for row in self.db.outbox:
            if row["purpose"] == "reminder":
                self.reminder_rows[row["ref"]].append(row)
        self.matrix_by_resident: dict[int, list[Any]] = defaultdict(list)
        for event in record.matrix_events:
            self.matrix_by_resident[event.resident].append(event)
        self.responders = {(p.role, p.grid): p for p in record.responders}

    # -- helpers

    def row(self, name: str) -> Row:
        if name not in self.rows:
            self.rows[name] = Row(name)
        return self.rows[name]

    def round_span(self, k: int) -> tuple[float, float]:
        start = self.r.round_times[k] - 2
        if k + 1 < len(self.r.round_times):
            return start, self.r.round_times[k + 1] - 2
        return start, max(self.r.stop_at, start) + 1

    def round_index(self, at: float) -> int:
        k = -1
        for index in range(len(self.r.round_times)):
            if at >= self.round_span(index)[0]:
                k = index
        return k

    def in_round(self, chat: int, k: int) -> list[Send]:
        start, end = self.round_span(k)
        return [s for s in self.sends.get(chat, []) if start <= s.at < end]

    @staticmethod
    def inbox_key(update_id: int, event_id: str) -> str:
        return f"{EVENT_PREFIX}{update_id}" if update_id else event_id

    def stored_at(self, answer: Any) -> float | None:
        """When the gateway had the answer in its inbox (durably)."""
        entry = self.db.inbox.get(self.inbox_key(answer.update_id, answer.event_id))
        return None if entry is None else float(entry["received_at"])

    def closed_earlier_in_the_page(self, alert: sqlite3.Row, answer: Any) -> bool:
        """The late answer and a /resolve or resolve button for its alert stored in one
        page and handled in one transaction (stamped alike), the close first."""
        entry = self.db.inbox.get(self.inbox_key(answer.update_id, answer.event_id))
        if entry is None or entry["handled_at"] is None:
            return False
        if alert["resolved_at"] != entry["handled_at"]:
            return False
        command = f"/resolve {alert['id']}"
        button = f"res.{alert['id']}.."
        for earlier in self.db.inbox.values():
            if earlier["id"] >= entry["id"] or earlier["handled_at"] != entry["handled_at"]:
                continue
            payload = json.loads(earlier["payload"])
            text = str(payload.get("text") or "")
            if text == command or text.startswith(command + " "):
                return True
            if str(payload.get("token") or "").startswith(button):
                return True
        return False

    def count(
        self, row: Row, expected: int | tuple[int, int], observed: int, what: str, where: str
    ) -> None:
        """One expectation: `expected` exactly, or a (low, high) range when a restart
        made the order of two things a matter of chance."""
        low, high = (expected, expected) if isinstance(expected, int) else expected
        row.expected += min(max(observed, low), high)
        if observed < low:
            row.lost += low - observed
            self.find.add(f"{row.name} lost", f"{where}: expected {low}, got {observed} {what}")
        elif observed > high:
            if high == 0:
                row.extra += observed
                self.find.add(f"{row.name} extra", f"{where}: expected none, got {observed} {what}")
            else:
                row.doubled += observed - high
                self.find.add(
                    f"{row.name} doubled", f"{where}: expected {high}, got {observed} {what}"
                )
        elif low > 0 or observed > 0:
            row.ok += min(observed, max(low, 1))

    def ts(self, at: float) -> str:
        return f"{at - self.r.started_at:.1f}s"

    # -- the checks

    def run(self) -> Report:
        answers = {(a.round, a.resident): a for a in self.r.answers}
        for k in range(len(self.r.round_times)):
            for resident in self.r.residents:
                self.resident_round(k, resident.index, answers.get((k, resident.index)))
        self.alerts()
        self.actions()
        self.inbox()
        if self.r.matrix_rooms:
            self.matrix()
        self.leftovers()
        duplicates = self.duplicates()
        return self.report(duplicates)

    def resident_round(self, k: int, i: int, answer: Any) -> None:
        resident = self.r.residents[i]
        b = self.r.behaviours[(k, i)]
        where = f"{resident.name} round {k + 1} ({b.kind})"
        pid = self.db.by_name.get(resident.name)
        due = self.r.round_times[k]
        ours = [
            c for c in (self.db.checkins.get(pid, []) if pid else []) if abs(c["due_at"] - due) < 2
        ]
        opened = self.row("check-ins opened at the round's time")
        self.count(opened, 1, len(ours), "check-ins", where)
        if not ours:
            return
        c = ours[0]
        if c["sent_at"] - due > LATE_AFTER:
            opened.late += 1
        chat = resident.chat
        sends = self.matrix_sends(i, k) if resident.matrix_id else self.in_round(chat, k)
        kinds = [self.t.resident_kind(s.text, resident.name) for s in sends]
        prompts = [s for s, kind in zip(sends, kinds, strict=True) if kind == "prompt"]
        row = self.row("prompts delivered")
        self.count(row, 1, len(prompts), "prompts", where)
        if prompts and prompts[0].at > c["deadline"]:
            row.late += 1
            self.find.add("prompt late", f"{where}: arrived after its window had closed")
        # The window and the reminder count from the delivery the gateway knows of: a
        # copy accepted while its answer was lost does not count (it cannot know it).
        known = [s for s in prompts if (chat, s.message_id) not in self.orphans]
        arrival = (known or prompts)[0].at if prompts else c["sent_at"]

        state, answered_at = c["state"], c["answered_at"]
        # Reminders: due a reminder's wait after delivery, unless answered before.
        remind_at = arrival + self.timing.reminder
        if answered_at is not None and answered_at < remind_at - TOLERANCE:
            expected: int | tuple[int, int] = 0
            if self.r.down_between(answered_at - TOLERANCE, remind_at + TOLERANCE):
                expected = (0, 1)
        elif answered_at is None or answered_at > remind_at + TOLERANCE:
            expected = 1
            if answered_at is not None and self.r.down_between(
                remind_at - TOLERANCE, answered_at + TOLERANCE
            ):
                expected = (0, 1)
        else:
            expected = (0, 1)
        reminders = kinds.count("reminder")
        row = self.row("reminders")
        superseded = c["reminders_sent"] > 0 and any(
            r["state"] == "cancelled" for r in self.reminder_rows.get(c["id"], [])
        )
        if reminders == 0 and expected == 1 and superseded:
            # Due, written, but still queued when the answer came: the answer's edit
            # took its place. Late (behind a backlog), not lost.
            row.expected += 1
            row.late += 1
        else:
            self.count(row, expected, reminders, "reminders", where)

        if b.kind in IN_TIME and answer is not None:
            self.in_time(k, i, b.kind, c, answer, where)
        elif b.kind in IN_TIME:
            self.find.add("answer not given", f"{where}: the resident never saw a prompt to answer")
        called_off = False
        if b.kind == SILENT or b.kind in LATE:
            called_off = self.silence(k, i, b.kind, c, answer, where)
        # A button press is answered with a toast; words are thanked in the chat.
        wrote = answer is not None and (
            b.kind in (TEXT, MEDIA, LATE_TEXT) or answer.note.startswith(WROTE_INSTEAD)
        )
        thanks_expected: int | tuple[int, int] = 0
        if wrote and b.kind in IN_TIME and b.kind not in HELP:
            thanks_expected = 1
        if wrote and b.kind in LATE:
            thanks_expected = 1 if called_off or state == "ok" else (0, 1)
        self.count(self.row("thank-yous"), thanks_expected, kinds.count("thanks"), "thanks", where)
        if b.kind in HELP:
            told = kinds.count("help_told")
            self.count(self.row("help: resident told who is coming"), 1, told, "messages", where)
        # An answered check-in's prompt and reminder lose their buttons.
        answered = state in ("ok", "help") or called_off
        if answered and not resident.matrix_id:  # Matrix: the bot's reactions, not buttons
            stale = 0
            shown = 0
            for s in self.all_sends.get(chat, []):
                start, end = self.round_span(k)
                if not start <= s.at < end:
                    continue
                if self.t.resident_kind(s.text, resident.name) not in ("prompt", "reminder"):
                    continue
                _, labels = self.r.final.get(chat, {}).get(s.message_id, ("", ()))
                if (chat, s.message_id) in self.orphans:
                    if self.t.ok_label in labels:
                        self.row("prompts edited after the answer").extra += 1
                        self.orphan(chat, s, where)
                    continue
                shown += 1
                if self.t.ok_label in labels:
                    stale += 1
            row = self.row("prompts edited after the answer")
            row.expected += shown
            row.ok += shown - stale
            row.lost += stale
            if stale:
                self.find.add(
                    "prompt still has buttons", f"{where}: {stale} prompt(s) still show ✅"
                )

    def in_time(self, k: int, i: int, kind: str, c: Any, answer: Any, where: str) -> None:
        row = self.row("answers recorded (in the window)")
        row.expected += 1
        want = "help" if kind in HELP else "ok"
        confirmed = self.stored_at(answer)
        if c["state"] == want and c["answered_at"] is not None:
            row.ok += 1
            if c["answered_at"] > c["deadline"]:
                row.late += 1
        elif c["state"] == "missed":
            false = self.row('false "no answer" alerts')
            stored_in_time = confirmed is not None and confirmed < c["deadline"] - 1
            false.expected += 0
            if stored_in_time:
                false.lost += 1
                row.lost += 1
                self.find.add(
                    "false no-answer alert",
                    f"{where}: answered at {self.ts(answer.at)}, stored at "
                    f"{self.ts(confirmed or 0)}, window closed {self.ts(c['deadline'])}",
                )
            else:
                false.late += 1
                row.late += 1
                self.find.add(
                    "false no-answer alert (answer taken in late)",
                    f"{where}: answered at {self.ts(answer.at)}, but the gateway only took it "
                    f"at {self.ts(confirmed or 0)} (down, or not polling), after the window "
                    f"closed at {self.ts(c['deadline'])}",
                )
        else:
            row.lost += 1
            self.find.add(
                "answer not recorded",
                f"{where}: answered at {self.ts(answer.at)} (update {answer.update_id}); "
                f"check-in is {c['state']!r}",
            )
        if kind in HELP:
            pid = c["person_id"]
            start, end = self.round_span(k)
            helps = [
                a
                for a in self.db.alerts
                if a["person_id"] == pid and a["urgent"] and start <= a["opened_at"] < end
            ]
            self.count(self.row("help: urgent alerts opened"), 1, len(helps), "alerts", where)

    def silence(self, k: int, i: int, kind: str, c: Any, answer: Any, where: str) -> bool:
        """The window closing in silence, and a late answer calling the alert off;
        returns whether a late answer called an alert off."""
        row = self.row("windows closed in silence → alert")
        alerts = [
            a for a in self.db.alerts if a["checkin_id"] == c["id"] and a["reason"] == "missed"
        ]
        if kind in LATE and c["state"] == "ok":
            # The late answer reached the gateway before it closed the window (a restart
            # can put the two in that order): no alert is right.
            row.expected += 1
            row.ok += 1
            return False
        if c["state"] in ("sent", "reminded"):
            row.expected += 1
            row.lost += 1
            self.find.add("deadline never fired", f"{where}: check-in still {c['state']!r}")
            return False
        self.count(row, 1, len(alerts), "alerts", where)
        if not alerts:
            return False
        alert = alerts[0]
        if alert["opened_at"] - c["deadline"] > LATE_AFTER:
            row.late += 1
        if kind not in LATE:
            return False
        called = self.row("late answers: alert called off")
        called.expected += 1
        confirmed = None if answer is None else self.stored_at(answer)
        resolved = alert["resolved_at"]
        if answer is None:
            called.lost += 1
            self.find.add("late answer not given", f"{where}: no prompt was seen")
        elif alert["outcome"] == "late_answer":
            called.ok += 1
            return True
        elif resolved is not None and confirmed is not None and resolved <= confirmed:
            # Someone had closed the alert before the answer came: nothing to call off.
            called.ok += 1
            called.extra += 1
        elif self.closed_earlier_in_the_page(alert, answer):
            # Polled in one page after a pause, the close came first in the page.
            called.ok += 1
            called.extra += 1
        else:
            called.lost += 1
            self.find.add(
                "late answer ignored",
                f"{where}: answered at {self.ts(answer.at)}, alert #{alert['id']} "
                f"ended {alert['state']!r} outcome {alert['outcome']!r}",
            )
        return False

    def alerts(self) -> None:
        step = self.timing.step
        for alert in self.db.alerts:
            person = self.db.people.get(alert["person_id"])
            index = None if person is None else self.t.resident_index(person["name"])
            if index is None:
                continue
            resident = self.r.residents[index]
            where = f"alert #{alert['id']} of {resident.name} ({alert['reason']})"
            stops = [t for t in (alert["acked_at"], alert["resolved_at"]) if t is not None]
            stop = min(stops) if stops else float("inf")
            leader = self.responders[(GRID_LEADER, resident.grid)]
            care = self.responders[(CARE_LEAD, resident.grid)]
            steps = [[leader.chat], [care.chat]]
            if resident.family_chat is not None:
                steps.append([resident.family_chat])
            # Each step is due a wait after the one before really fired (a step late
            # after a restart delays the next), as the notifications recorded it.
            fired: dict[int, float] = {}
            for n in self.db.notifications.get(alert["id"], []):
                fired[n["step"]] = min(fired.get(n["step"], n["at"]), n["at"])
            due = alert["opened_at"]
            notified: list[int] = []
            for number, chats in enumerate(steps, start=1):
                expected = self._expect_before(due, stop)
                for chat in chats:
                    copies = [
                        s
                        for s in self.sends.get(chat, [])
                        if self.t.alert_id(s.text) == alert["id"]
                    ]
                    # A copy the gateway never learnt of (a lost answer, a kill before
                    # its record) is counted by its cause; the one it sent instead is
                    # the copy that counts.
                    known = [s for s in copies if (chat, s.message_id) not in self.orphans]
                    if copies:
                        notified.append(chat)
                    self.count(
                        self.row(f"escalation step {number} copies"),
                        expected,
                        len(known) if known else min(len(copies), 1),
                        "copies",
                        f"{where} step {number}",
                    )
                due = fired.get(number, due) + step
            expected = self._expect_before(due, stop)
            for chat in notified:
                notices = [
                    s for s in self.sends.get(chat, []) if self.t.exhausted(s.text) == alert["id"]
                ]
                self.count(
                    self.row("'nobody acknowledged' notices"),
                    expected,
                    len(notices),
                    "notices",
                    where,
                )
            if alert["outcome"] == "late_answer":
                resolved = alert["resolved_at"]
                for chat in notified:
                    before = [
                        s
                        for s in self.sends.get(chat, [])
                        if self.t.alert_id(s.text) == alert["id"] and s.at < resolved + TOLERANCE
                    ]
                    downs = [
                        s
                        for s in self.sends.get(chat, [])
                        if self.t.stand_down(s.text) == alert["id"]
                    ]
                    self.count(
                        self.row("stand-downs after a late answer"),
                        1 if before else (0, 1),
                        len(downs),
                        "stand-downs",
                        where,
                    )
            if alert["state"] == "resolved":
                stale = 0
                chats = [leader.chat, care.chat]
                if resident.family_chat is not None:
                    chats.append(resident.family_chat)
                for chat in chats:
                    for message_id, (text, labels) in self.r.final.get(chat, {}).items():
                        if self.t.alert_id(text) == alert["id"] and (
                            self.t.ack_label in labels or self.t.resolve_label in labels
                        ):
                            if (chat, message_id) in self.orphans:
                                self.row("alert copies up to date at the end").extra += 1
                                self.orphan(chat, self.send_of(chat, message_id), where)
                                continue
                            stale += 1
                row = self.row("alert copies up to date at the end")
                row.expected += 1
                if stale:
                    row.lost += 1
                    self.find.add(
                        "stale alert copy", f"{where}: {stale} copy(ies) still show buttons"
                    )
                else:
                    row.ok += 1

    def send_of(self, chat: int, message_id: int) -> Send | None:
        for send in self.all_sends.get(chat, []):
            if send.message_id == message_id:
                return send
        return None

    def orphan(self, chat: int, send: Send | None, where: str) -> None:
        """A message left with live buttons because the gateway never learnt of it."""
        if send is not None and send.lost:
            self.orphan_causes["lost response"] += 1
        elif send is not None and any(-1 <= k.at - send.at <= 15 for k in self.r.kills):
            # Sent as the kill came, or in the moments before it: not yet recorded.
            kill = min(k.at for k in self.r.kills if -1 <= k.at - send.at <= 15)
            self.orphan_causes["kill"] += 1
            self.find.add(
                "left with buttons by a kill",
                f"{where}: message {send.message_id} in chat {chat} sent at {self.ts(send.at)}, "
                f"the gateway killed at {self.ts(kill)} before it recorded the send",
            )
        else:
            self.orphan_causes["other"] += 1
            self.find.add("unknown message left with buttons", f"{where}: chat {chat}")

    def _expect_before(self, due: float, stop: float) -> int | tuple[int, int]:
        """A step (or notice) due at `due` is owed if the alert was not stopped first."""
        if due < stop - TOLERANCE:
            if stop != float("inf") and self.r.down_between(due - TOLERANCE, stop + TOLERANCE):
                return (0, 1)
            return 1
        if due > stop + TOLERANCE:
            if self.r.down_between(stop - TOLERANCE, due + TOLERANCE):
                return (0, 1)
            return 0
        return (0, 1)

    def actions(self) -> None:
        alerts = {a["id"]: a for a in self.db.alerts}
        for action in self.r.actions:
            alert = alerts.get(action.alert)
            where = f"{action.kind} of alert #{action.alert} at {self.ts(action.at)}"
            row = self.row(f"responders: {action.kind}")
            row.expected += 1
            if alert is None:
                row.lost += 1
                self.find.add("action on unknown alert", where)
                continue
            match action.kind:
                case "ack":
                    done = alert["acked_at"] is not None or alert["resolved_at"] is not None
                case "resolve":
                    menus = [
                        s
                        for s in self.sends.get(action.chat, [])
                        if self.t.outcome_menu(s.text) == action.alert and s.at >= action.at - 1
                    ]
                    done = len(menus) >= 1 or alert["state"] == "resolved"
                    if len(menus) > 1:
                        row.doubled += len(menus) - 1
                        self.find.add("outcome menu doubled", where)
                case _:
                    done = alert["state"] == "resolved"
            if done:
                row.ok += 1
            else:
                row.lost += 1
                self.find.add(
                    f"responders: {action.kind} lost", f"{where}: alert {alert['state']!r}"
                )
        row = self.row("alerts closed by the end")
        for alert in self.db.alerts:
            row.expected += 1
            if alert["state"] == "resolved":
                row.ok += 1
            else:
                row.lost += 1
                self.find.add("alert left open", f"alert #{alert['id']}: {alert['state']!r}")

    def inbox(self) -> None:
        row = self.row("updates stored and handled")
        keys = [self.inbox_key(a.update_id, a.event_id) for a in self.r.answers]
        keys += [self.inbox_key(a.update_id, "") for a in self.r.actions]
        for key in keys:
            row.expected += 1
            entry = self.db.inbox.get(key)
            if entry is None:
                row.lost += 1
                self.find.add("update lost", f"{key or 'an answer never sent'} is not in the inbox")
            elif entry["handled_at"] is None or entry["error"]:
                row.lost += 1
                self.find.add("update not handled", f"{key}: error {entry['error']!r}")
            else:
                row.ok += 1

    # -- Matrix

    def matrix_sends(self, i: int, k: int) -> list[Send]:
        """The bot's messages (not edits, not reactions) in a Matrix resident's rooms."""
        start, end = self.round_span(k)
        return [
            Send(at=e.at, chat=-1, text=e.body, markup="", lost=False, message_id=-1)
            for e in self.matrix_by_resident.get(i, [])
            if e.kind == "m.room.message" and not e.relates and start <= e.at < end
        ]

    def matrix(self) -> None:
        """No room opened twice, no event posted twice (transaction ids)."""
        rooms = self.row("Matrix: one direct room per resident")
        for resident in self.r.residents:
            if resident.matrix_id:
                held = self.r.matrix_rooms.get(resident.index, [])
                self.count(rooms, 1, len(held), "rooms", f"{resident.name} on Matrix")
        doubled = self.row("Matrix: events posted once")
        window = self.timing.period / 2
        for index, events in self.matrix_by_resident.items():
            name = self.r.residents[index].name
            last: dict[tuple[str, str, str], float] = {}
            for event in sorted(events, key=lambda e: e.at):
                if event.kind not in ("m.room.message", "m.reaction"):
                    continue  # the room's own state: creation, membership
                if event.relates.startswith("replace:"):
                    continue  # edits say the same again on purpose
                key = (event.kind, event.body, event.relates)
                before = last.get(key)
                last[key] = event.at
                doubled.expected += 1
                if before is not None and event.at - before < window:
                    doubled.doubled += 1
                    self.find.add(
                        "Matrix event posted twice",
                        f"{name}: {event.kind} {event.body[:30]!r} at {self.ts(before)} and "
                        f"{self.ts(event.at)}",
                    )
                else:
                    doubled.ok += 1

    def leftovers(self) -> None:
        end = self.r.stop_at - 5
        row = self.row("deadlines fired by the end")
        overdue = [t for t in self.db.timers if t["due_at"] < end and t["kind"] != "round"]
        row.expected = len(overdue)
        row.lost = len(overdue)
        for timer in overdue[:3]:
            self.find.add(
                "deadline never fired",
                f"timer {timer['kind']} for {timer['ref']} due {self.ts(timer['due_at'])}",
            )
        row = self.row("outbox: every message delivered")
        for message in self.db.outbox:
            if message["state"] == "cancelled":
                continue
            row.expected += 1
            if message["state"] == "sent":
                row.ok += 1
            elif message["state"] == "failed":
                row.lost += 1
                self.find.add(
                    "message given up",
                    f"outbox {message['id']} ({message['purpose'] or 'reply'}) to "
                    f"{message['chat']}: {message['last_error']}",
                )
            elif message["created_at"] < end - self.timing.period / 2:
                row.lost += 1
                self.find.add(
                    "message stuck in the outbox",
                    f"outbox {message['id']} ({message['purpose'] or 'reply'}) "
                    f"to {message['chat']}",
                )
            else:
                row.late += 1

    def duplicates(self) -> Counter[str]:
        """Identical messages sent to one chat in one round: by cause. (A thank-you is
        the same text every round; two in one round are one too many.)"""
        causes: Counter[str] = Counter()
        kills = sorted(k.at for k in self.r.kills)
        for chat, sends in self.all_sends.items():
            last: dict[tuple[str, str], Send] = {}
            for send in sends:
                key = (send.text, send.markup)
                before = last.get(key)
                last[key] = send
                if before is None or self.round_index(before.at) != self.round_index(send.at):
                    continue
                if before.lost:
                    causes["lost response"] += 1
                elif any(before.at - 1 <= k <= send.at for k in kills):
                    causes["kill"] += 1
                    self.find.add(
                        "sent twice across a kill",
                        f"chat {chat}: {send.text[:40]!r} at {self.ts(before.at)} and "
                        f"{self.ts(send.at)}",
                    )
                else:
                    causes["other"] += 1
                    self.find.add(
                        "sent twice",
                        f"chat {chat}: {send.text[:40]!r} at {self.ts(before.at)} and "
                        f"{self.ts(send.at)}",
                    )
        return causes

    def report(self, duplicates: Counter[str]) -> Report:
        kills = len(self.r.kills)
        bad_integrity = [k for k in self.r.kills if k.integrity != "ok"]
        row = self.row("integrity_check after each kill")
        row.expected = kills
        row.ok = kills - len(bad_integrity)
        row.lost = len(bad_integrity)
        for k in bad_integrity[:3]:
            self.find.add("integrity", f"after kill at {self.ts(k.at)}: {k.integrity}")
        # Copies the user sees that a kill (or nothing known) explains: sent twice, or
        # left behind with live buttons because the record of the send died with it.
        unexplained = (
            duplicates["kill"]
            + duplicates["other"]
            + self.orphan_causes["kill"]
            + self.orphan_causes["other"]
        )
        lost_responses = self.r.faults.get("RESPONSE_LOST", 0)
        false = self.rows.get('false "no answer" alerts', Row(""))
        calls = sum(self.r.calls.values())
        faults = sum(self.r.faults.values())
        events = self.rows.get("Matrix: events posted once", Row(""))
        rooms = self.rows.get("Matrix: one direct room per resident", Row(""))
        targets = [
            ("nothing lost", f"{self.lost_total()} lost", self.lost_total() == 0),
            (
                "≤ 1 duplicate Telegram send per kill (not counting lost responses)",
                f"{unexplained} over {kills} kills ({duplicates['kill']} sent twice across a "
                f"kill, {duplicates['other']} otherwise; {self.orphan_causes['kill']} left "
                f"with buttons by a kill, {self.orphan_causes['other']} otherwise)",
                unexplained <= kills,
            ),
            (
                'no false "no answer" alert for an answer given in its window',
                f"{false.lost} (stored in time) + {false.late} (taken in after the deadline)",
                false.lost + false.late == 0,
            ),
            (
                "integrity_check ok after every kill",
                f"{kills - len(bad_integrity)}/{kills}",
                not bad_integrity,
            ),
            (
                "every planned kill happened",
                f"{kills}",
                not any("kills happened" in n for n in self.r.notes),
            ),
        ]
        if self.r.matrix_rooms:
            targets.append(("no duplicate Matrix event", str(events.doubled), events.doubled == 0))
            targets.append(
                ("one direct room per Matrix resident", f"{rooms.doubled} extra", not rooms.doubled)
            )
        downtime = [b - a for a, b in self.r.downtime()]
        figures = {
            "residents": len(self.r.residents),
            "rounds": len(self.r.round_times),
            "kills": kills,
            "kill_kinds": dict(Counter(k.kind for k in self.r.kills)),
            "restart_seconds_mean": round(sum(downtime) / len(downtime), 2) if downtime else 0,
            "restart_seconds_max": round(max(downtime), 2) if downtime else 0,
            "gateway_exits_by_itself": len(self.r.crashes),
            "sends": len(self.r.sends),
            "calls": calls,
            "faults": self.r.faults,
            "faults_total": faults,
            "fault_share": faults / calls if calls else 0.0,
            "duplicates_after_lost_response": duplicates["lost response"],
            "duplicates_across_kills": duplicates["kill"],
            "duplicates_other": duplicates["other"],
            "orphans_after_lost_response": self.orphan_causes["lost response"],
            "orphans_across_kills": self.orphan_causes["kill"],
            "orphans_other": self.orphan_causes["other"],
            "responses_lost": lost_responses,
            "answers": len(self.r.answers),
            "responder_actions": len(self.r.actions),
            "alerts": len(self.db.alerts),
            "notes": self.r.notes,
        }
        for name, note in NOTES.items():
            if name in self.rows:
                self.rows[name].note = note
        rows = list(self.rows.values())
        seen = {
            "started_at": self.r.started_at,
            "round_times": self.r.round_times,
            "sends": [asdict(s) for s in self.r.sends],
            "answers": [asdict(a) for a in self.r.answers],
            "actions": [asdict(a) for a in self.r.actions],
            "kills": [asdict(k) for k in self.r.kills],
            "crashes": self.r.crashes,
        }
        return Report(rows, targets, self.find.items, figures, record=seen)

    def lost_total(self) -> int:
        return sum(r.lost for r in self.rows.values())
