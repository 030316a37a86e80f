"""An alert's page (`/alerts/<id>`): its timeline — opened, every copy sent (to whom,
when, on which platform, delivered or failed), acknowledgements, notes, the outcome —
where its walk stands and when the next step fires; and acknowledging, noting and
resolving it from the page.

The page acts through the very functions the chat buttons and commands call
(workflows/escalation.py acknowledge, add_note, resolve), in one engine transaction:
every chat copy of the alert is edited the same way and the audit names the same
person. So the account must be linked to a responder (`--person`) who may act on this
alert in the chat; an account without one reads the page (see principal.py).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from core.enums import OutboxState, TimerKind
from core.ids import PersonId
from core.ports import Tx
from core.records import Alert, AlertState, Person
from gateway.web.deps import DEPS
from gateway.web.person import audit_shown
from gateway.web.principal import Principal, principal
from gateway.web.render import Labels, labels, page, when
from gateway.web.security import BadRequest
from workflows import escalation
from workflows.context import Work

MAX_NOTE = 1000
MAX_OUTCOME = 200
# Audit kinds worth a line of their own on the timeline (the rest has one already).
AUDIT_LINES = (
    "alert.step_empty",
    "alert.exhausted",
    "alert.still_unresolved",
    "alert.stand_down",
    "timer.late",
)


STEP_DETAIL = re.compile(r"step (\d+): (\w+)")


@dataclass(frozen=True)
class Line:
    at: datetime
    text: str
    detail: str = ""
    tone: str = ""  # "", "failed", "pending"


def not_found() -> web.HTTPNotFound:
    # Also for an alert of another grid: whether it exists is not for them to learn.
    return web.HTTPNotFound(text="no such alert\n", content_type="text/plain")


async def visible_alert(tx: Tx, who: Principal, alert_id: int) -> tuple[Alert, Person]:
    alert = await tx.alert(alert_id)
    resident = None if alert is None else await tx.person(alert.person_id)
    if alert is None or resident is None or not who.sees(resident.grid):
        raise not_found()
    return alert, resident


def _alert_id(request: web.Request) -> int:
    return int(request.match_info["alert_id"])


async def _name(tx: Tx, person_id: PersonId | None, t: Labels) -> str:
    if person_id is None:
        return t("system")
    person = await tx.person(person_id)
    return person.name if person else f"#{person_id}"


async def timeline(tx: Tx, alert: Alert, resident: Person, t: Labels) -> list[Line]:
    tz = resident.timezone
    lines = [
        Line(
            alert.opened_at,
            t("tl_opened", reason=t.text(f"reason_{alert.reason.value}")),
            escalation.readable(alert.detail, t.text),
            "failed" if alert.urgent else "",
        )
    ]
    copies = await tx.notifications(alert.id)
    rows = {n.outbox_id: await tx.outbox_row(n.outbox_id) for n in copies}
    attempts = await tx.attempts_of(list(rows))
    for copy in copies:
        row = rows[copy.outbox_id]
        who = await _name(tx, copy.person_id, t)
        role = t.text(f"role_{copy.role}") if copy.role != "unresolved" else copy.role
        platform = row.platform if row else "?"
        tried = attempts.get(copy.outbox_id, [])
        if row is None:
            state, tone = t("delivery_unknown"), "pending"
        elif row.state == OutboxState.SENT:
            sent = next((a.at for a in tried if a.ok), copy.at)
            state, tone = t("delivery_sent", time=when(t, copy.at, sent, tz)), ""
        elif row.state == OutboxState.FAILED:
            error = next((a.error for a in reversed(tried) if not a.ok), "") or "?"
            state, tone = t("delivery_failed", error=error), "failed"
        elif row.state == OutboxState.CANCELLED:
            state, tone = t("delivery_replaced"), ""
        else:
            failures = sum(1 for a in tried if not a.ok)
            state, tone = t("delivery_pending", tries=failures), "pending"
        lines.append(
            Line(
                copy.at,
                t("tl_notified", who=who, role=role, step=copy.step, platform=platform),
                state,
                tone,
            )
        )
    for note in await tx.alert_notes(alert.id):
        if note.person_id is None and note.text.startswith("step_unreachable|"):
            _, role, names = note.text.split("|", 2)
            text = t.text("alert_step_unreachable", role=t.text(f"role_{role}"), names=names)
            lines.append(Line(note.at, text, "", "failed"))
            continue
        who = await _name(tx, note.person_id, t)
        lines.append(Line(note.at, t("tl_note", who=who), escalation.readable(note.text, t.text)))
    for entry in await tx.audit_entries(f"alert:{alert.id}"):
        if entry.kind in AUDIT_LINES:
            detail = entry.detail
            # "step 3: family", as the escalation records a step with nobody in it.
            if step := STEP_DETAIL.fullmatch(detail):
                role = t.text(f"role_{step.group(2)}")
                detail = t("tl_step_role", step=step.group(1), role=role)
            lines.append(Line(entry.at, t("tl_" + entry.kind.replace(".", "_")), detail))
    if alert.acked_at is not None:
        who = await _name(tx, alert.acked_by, t)
        lines.append(Line(alert.acked_at, t("tl_acknowledged", who=who)))
    if alert.resolved_at is not None:
        who = await _name(tx, alert.resolved_by, t)
        outcome = alert.outcome
        if outcome in (*escalation.OUTCOMES, escalation.LATE_ANSWER):
            outcome = t.text(f"outcome_{outcome}")
        lines.append(Line(alert.resolved_at, t("tl_resolved", who=who, outcome=outcome)))
    lines.sort(key=lambda line: line.at)
    return lines


async def alert_page(request: web.Request) -> web.Response:
    who = principal(request)
    t = labels(request)
    engine = request.app[DEPS].engine
    now = engine.clock.now()
    async with engine.store.read() as tx:
        alert, resident = await visible_alert(tx, who, _alert_id(request))
        lines = await timeline(tx, alert, resident, t)
        steps = await tx.timers_of(alert.id, TimerKind.ESCALATE)
        family = [p.name for p in await tx.family_of(resident.id)]
    await audit_shown(request, who, resident, f"opened /alerts/{alert.id}")
    policy = engine.config.escalation_policies.get(alert.policy)
    total = len(policy.steps) * (policy.repeat + 1) if policy else 0
    next_step = None
    if steps and alert.state is AlertState.OPEN and policy is not None and alert.position < total:
        step = policy.steps[alert.position % len(policy.steps)]
        next_step = t(
            "next_step",
            time=when(t, now, steps[0].due_at, resident.timezone),
            role=t.text(f"role_{step.notify.value}"),
        )
    can_act, why_not = _may_act(who, alert, resident)
    return page(
        request,
        "alert.html",
        {
            "alert": alert,
            "resident": resident,
            "family": family,
            "lines": [(when(t, now, line.at, resident.timezone), line) for line in lines],
            "position": alert.position,
            "total": total,
            "next_step": next_step,
            "can_act": can_act,
            "why_not": why_not,
            "outcomes": [(o, t.text(f"outcome_{o}")) for o in escalation.OUTCOMES],
            "notice": request.query.get("notice", "")[:300],
            "open": alert.state is not AlertState.RESOLVED,
            "acked": alert.state is AlertState.ACKNOWLEDGED,
        },
    )


def _may_act(who: Principal, alert: Alert, resident: Person) -> tuple[bool, str]:
    if not who.can_act:
        return False, "act_viewer"
    if who.person is None:
        return False, "act_no_person"
    if not escalation.may_act(alert, resident, who.person):
        return False, "act_not_allowed"
    return True, ""


Act = Callable[[Work, Alert, Person], Awaitable[str]]


async def _act(request: web.Request, act: Act) -> web.Response:
    who = principal(request)
    engine = request.app[DEPS].engine
    alert_id = _alert_id(request)
    async with engine.store.read() as tx:
        alert, resident = await visible_alert(tx, who, alert_id)
    allowed, why = _may_act(who, alert, resident)
    if not allowed or who.person is None:
        raise web.HTTPForbidden(text=labels(request)(why) + "\n", content_type="text/plain")
    async with engine.work() as work:
        current = await work.tx.alert(alert_id)
        assert current is not None
        text = await act(work, current, who.person)
    query = urllib.parse.urlencode({"notice": text})
    raise web.HTTPSeeOther(f"/alerts/{alert_id}?{query}")


async def acknowledge(request: web.Request) -> web.Response:
    return await _act(request, escalation.acknowledge)


async def add_note(request: web.Request) -> web.Response:
    form = await request.post()
    text = str(form.get("text", "")).strip()
    if not text or len(text) > MAX_NOTE:
        raise BadRequest(f"a note has 1 to {MAX_NOTE} characters")

    async def note(work: Work, alert: Alert, by: Person) -> str:
        return await escalation.add_note(work, alert, by, text)

    return await _act(request, note)


async def resolve(request: web.Request) -> web.Response:
    form = await request.post()
    outcome = str(form.get("outcome", "")).strip()
    if outcome == "other":
        outcome = str(form.get("other", "")).strip()
    if not outcome or len(outcome) > MAX_OUTCOME:
        raise BadRequest(f"an outcome has 1 to {MAX_OUTCOME} characters")

    async def close(work: Work, alert: Alert, by: Person) -> str:
        return await escalation.resolve(work, alert, by, outcome)

    return await _act(request, close)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/alerts/{alert_id:\\d{1,12}}", alert_page),
        web.post("/alerts/{alert_id:\\d{1,12}}/ack", acknowledge),
        web.post("/alerts/{alert_id:\\d{1,12}}/note", add_note),
        web.post("/alerts/{alert_id:\\d{1,12}}/resolve", resolve),
    ]
