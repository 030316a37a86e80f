"""Reply windows closing, handled as sets.

At a round's deadline every resident who did not answer has their window close at
once, and one at a time a window closing into an alert is some twenty statements:
the check-in, its prompt's delivery, the resident, their open alert, the first step's
people, whether they are away, their chats, the resident's family, when they were last
heard from and how often they missed, then the alert, its copy, the copy's record, the
step's timer and audit rows. Here the plain ones of a batch of due `close` timers are
read with one statement per kind of row and written with one per table.

What happens is what `checkin.on_window_closed` does with each timer in turn: every
table gets the same rows in the same order, so with the same ids. Whatever is not
plain — a window that counts from a later delivery, a check-in already answered, an
alert already open for the resident, a first step whose people are away, need asking
for consent or cannot be reached, or that is the family — goes to `fire_one` in its
place, after the plain ones before it are written; a second timer about the same
check-in or resident starts again after it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from core.commands import Priority
from core.config import EscalationPolicy
from core.enums import Role
from core.ids import AlertId, CheckinId, OutboxId, PersonId, split_chat_ref
from core.outbox import NewMessage
from core.records import (
    OPEN_CHECKIN_STATES,
    Alert,
    AlertReason,
    AlertState,
    Checkin,
    CheckinState,
    Identity,
    NewAlert,
    Person,
    Timer,
)
from workflows import escalation, privacy
from workflows.checkin import TIMER_CLOSE, WINDOW_SLACK
from workflows.context import Work
from workflows.messaging import chats_to_reach

log = logging.getLogger("workflows.escalation")

FireOne = Callable[[Work, Timer], Awaitable[None]]


class CloseRaced(RuntimeError):
    """A check-in read as open was answered before the batch's closes were written (by
    another instance): the batch is to be done again one timer at a time."""


def together(timer: Timer) -> bool:
    """Whether a due timer may be fired with others as a set."""
    return timer.kind == TIMER_CLOSE


async def handle(work: Work, timers: Sequence[Timer], fire_one: FireOne) -> int:
    """Claim these due `close` timers and fire them in order; returns how many this
    transaction claimed (another instance may be firing the rest)."""
    claimed = await work.tx.claim_timers([t.id for t in timers])
    run = [t for t in timers if t.id in claimed]
    start = 0
    while start < len(run):
        start = await _handle_from(work, run, start, fire_one)
    return len(run)


async def _handle_from(work: Work, run: Sequence[Timer], start: int, fire_one: FireOne) -> int:
    """Fire run[start:] up to a second timer about a check-in or resident already in
    it; returns where it stopped."""
    facts = await _Facts.read(work, run[start:])
    batch = _Batch()
    checkins: set[int] = set()
    residents: set[int] = set()
    for index in range(start, len(run)):
        timer = run[index]
        checkin = facts.checkins.get(CheckinId(timer.ref))
        if timer.ref in checkins or (checkin is not None and checkin.person_id in residents):
            # What was read for this batch may have changed for this check-in.
            await batch.write(work, facts)
            return index
        checkins.add(timer.ref)
        if checkin is not None:
            residents.add(checkin.person_id)
        if checkin is None or not batch.take(work, checkin, facts):
            await batch.write(work, facts)
            await fire_one(work, timer)
    await batch.write(work, facts)
    return len(run)


@dataclass
class _Facts:
    checkins: dict[CheckinId, Checkin]
    delivered: dict[CheckinId, datetime]
    residents: dict[PersonId, Person]
    alerts: dict[PersonId, Alert]
    family: dict[PersonId, list[Person]]
    heard: dict[PersonId, datetime]
    # (grid, role) → the responders of that step, as `tx.responders` gives them
    responders: dict[tuple[str, str], list[Person]]
    away: set[PersonId]
    chats: dict[PersonId, list[Identity]]

    @staticmethod
    async def read(work: Work, timers: Sequence[Timer]) -> _Facts:
        tx = work.tx
        ids = list(dict.fromkeys(CheckinId(t.ref) for t in timers))
        checkins = await tx.checkins_by_id(ids)
        open_ = [c for c in checkins.values() if c.state in OPEN_CHECKIN_STATES]
        people = list(dict.fromkeys(c.person_id for c in open_))
        residents = await tx.people_by_id(people)
        responders: dict[tuple[str, str], list[Person]] = {}
        for resident in residents.values():
            policy = _policy(work, resident)
            if policy is None:
                continue
            role = policy.steps[0].notify
            key = (resident.grid, role.value)
            if role is not Role.FAMILY and key not in responders:
                responders[key] = await tx.responders(resident.grid, role.value)
        step_people = list(dict.fromkeys(p.id for each in responders.values() for p in each))
        return _Facts(
            checkins=checkins,
            delivered=await tx.prompts_delivered_at([c.id for c in open_]),
            residents=residents,
            alerts=await tx.unresolved_alert_of_each(people),
            family=await tx.family_of_each(people),
            heard=await tx.last_heard_each(people),
            responders=responders,
            away=await tx.away_among(step_people, work.now),
            chats=await tx.identities_of_each(step_people),
        )


def _policy(work: Work, resident: Person) -> EscalationPolicy | None:
    policy = work.config.escalation_policies.get(escalation.policy_name(work, resident))
    if policy is None or escalation.total_steps(policy) == 0:
        return None
    return policy


@dataclass
class _Close:
    """A plain window closing: the alert it opens and who gets its first copy."""

    checkin: Checkin
    resident: Person
    policy_name: str
    policy: EscalationPolicy
    live: list[Person]


@dataclass
class _Batch:
    closes: list[_Close] = field(default_factory=list)

    def take(self, work: Work, checkin: Checkin, facts: _Facts) -> bool:
        """Note this window's close if it is plain (False if not)."""
        if checkin.state not in OPEN_CHECKIN_STATES:
            return False
        plan = work.config.plans.get(checkin.plan)
        delivered = facts.delivered.get(CheckinId(checkin.id))
        if plan is None or delivered is None:
            return False  # no plan, or the prompt not yet delivered: as ever
        if max(delivered, checkin.sent_at) + plan.reply_window > work.now + WINDOW_SLACK:
            return False  # the window counts from a later delivery: postponed
        resident = facts.residents.get(checkin.person_id)
        if resident is None or resident.id in facts.alerts:
            return False
        policy = _policy(work, resident)
        if policy is None:
            return False
        role = policy.steps[0].notify
        people = facts.responders.get((resident.grid, role.value))
        if people is None or any(
            p.id in facts.away or p.role in privacy.CONSENT_ROLES for p in people
        ):
            return False  # the family, someone covered for, or consent to ask
        live = [
            p for p in people if any(work.reachable(i.platform) for i in facts.chats.get(p.id, []))
        ]
        if not live:
            return False  # the step is passed on, and noted
        self.closes.append(
            _Close(checkin, resident, escalation.policy_name(work, resident), policy, live)
        )
        return True

    async def write(self, work: Work, facts: _Facts) -> None:
        if not self.closes:
            return
        closes, self.closes = self.closes, []
        tx = work.tx
        ids = [CheckinId(c.checkin.id) for c in closes]
        missed = await tx.set_checkin_states(ids, CheckinState.MISSED, only_if=OPEN_CHECKIN_STATES)
        if len(missed) != len(ids):
            raise CloseRaced(f"{len(ids) - len(missed)} check-ins answered meanwhile")
        residents = [c.resident.id for c in closes]
        misses = await tx.misses_since_each(residents, work.now - escalation.RECENT)
        alert_ids = await tx.create_alerts(
            [
                NewAlert(
                    c.resident.id,
                    CheckinId(c.checkin.id),
                    AlertReason.MISSED,
                    False,
                    c.policy_name,
                    work.now,
                    misses=1,
                    position=1,
                )
                for c in closes
            ]
        )
        copies: list[tuple[str, NewMessage]] = []
        copy_of: list[tuple[AlertId, Person, str]] = []
        audit: list[tuple[datetime, str, str, int | None, str]] = []
        steps: list[tuple[datetime, str, int, str]] = []
        for close, alert_id in zip(closes, alert_ids, strict=True):
            alert = _opened(close, alert_id, work.now)
            resident, role = close.resident, close.policy.steps[0].notify
            audit.append((work.now, "checkin.missed", f"checkin:{close.checkin.id}", None, ""))
            audit.append((work.now, "alert.opened.missed", f"alert:{alert_id}", None, ""))
            log.info("alert %s opened for person %s: missed", alert_id, resident.id)
            texts: dict[str, str] = {}
            for person in close.live:
                text = texts.get(person.language)
                if text is None:
                    details = escalation.details_text(
                        work,
                        resident,
                        person.language,
                        facts.family.get(resident.id, []),
                        facts.heard.get(resident.id),
                        misses.get(resident.id, 0),
                    )
                    text = texts[person.language] = escalation.new_alert_text(
                        work, alert, resident, person.language, close.checkin, details
                    )
                buttons = escalation.alert_buttons(work, alert, person)
                for chat in chats_to_reach(work, facts.chats.get(person.id, [])):
                    platform, _ = split_chat_ref(chat.chat)
                    work.touched_platforms.add(platform)
                    copies.append(
                        (
                            platform,
                            NewMessage(
                                chat=chat.chat,
                                text=text,
                                priority=Priority.ALERT,
                                person_id=person.id,
                                purpose=escalation.PURPOSE_ALERT,
                                ref=alert_id,
                                buttons=buttons,
                            ),
                        )
                    )
                    copy_of.append((alert_id, person, role.value))
            names = ", ".join(p.name for p in close.live)
            audit.append(
                (
                    work.now,
                    "alert.notified",
                    f"alert:{alert_id}",
                    None,
                    f"step 1: {role.value} ({names})",
                )
            )
            log.info("alert %s step 1: %d %s notified", alert_id, len(close.live), role.value)
            wait = close.policy.steps[0].wait or close.policy.default_wait
            steps.append((work.now + wait, escalation.TIMER_STEP, alert_id, "1"))
        outbox_ids: list[OutboxId] = await tx.enqueue_each(copies, work.now)
        await tx.add_notifications(
            [
                (alert_id, person.id, outbox_id, 1, role, work.now)
                for (alert_id, person, role), outbox_id in zip(copy_of, outbox_ids, strict=True)
            ]
        )
        await tx.add_timers(steps, work.now)
        work.timers_added = True
        await tx.audit_many(audit)


def _opened(close: _Close, alert_id: AlertId, now: datetime) -> Alert:
    """The alert as `create_alert` writes it for a missed check-in."""
    return Alert(
        id=alert_id,
        person_id=close.resident.id,
        checkin_id=CheckinId(close.checkin.id),
        reason=AlertReason.MISSED,
        urgent=False,
        state=AlertState.OPEN,
        policy=close.policy_name,
        position=0,
        opened_at=now,
        detail="",
        acked_by=None,
        acked_at=None,
        resolved_by=None,
        resolved_at=None,
        outcome="",
        misses=1,
    )
