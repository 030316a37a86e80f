"""Privacy by design: consent, need to know, reveals, erasure and retention.

- **Consent.** A resident's enrollment (their `/start`) is recorded with the version of
  the privacy notice they were shown. A family contact or volunteer hears nothing about
  a resident until they say yes to "接收王秀英的提醒？"; a no is recorded and the grid's
  operators are told. `/stop` withdraws it.
- **Need to know.** What goes to a group chat names the resident by first name and
  building only (`for_group`: the one function every group post goes through). Whoever
  takes a need or an alert from a group gets the address and phone privately
  (`reveal`), written to the audit log; when it is closed that message is edited to
  remove them (`conceal`).
- **Erasure.** `forget` (the resident's `/forget`, or `carecheck people forget`)
  refuses while an alert is open, tells the grid leaders, then erases.
- **Retention.** A daily durable timer reduces old message texts to their
  classification and deletes old records (`run_retention`); two instances run it once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from core.commands import Button, Priority
from core.enums import ConsentDecision, OutboxState, Purpose, Role, TimerKind
from core.events import ButtonPressed, MessageReceived
from core.ports import Tx
from core.records import Person, Timer
from workflows.actions import ActionKind, ActionToken
from workflows.context import Work
from workflows.messaging import answer_press, edit, to_chat, to_person
from workflows.routes import Routes, feedback, reply
from workflows.timefmt import hm

log = logging.getLogger(__name__)

# Roles that hear about residents only once they have said yes: family, and the
# volunteers an operator adds (team members, callers).
CONSENT_ROLES = frozenset({Role.FAMILY, Role.TEAM_MEMBER, Role.CALLER})
TIMER_RETENTION = TimerKind.RETENTION
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# -- need to know: what a group sees ---------------------------------------------------


def first_name(name: str) -> str:
    """How a group chat names a resident: the first word of a name written with spaces
    ("Wang Xiaoming" → "Wang"); of a Chinese name the family name with the rest masked
    ("王秀英" → "王*英", "李明" → "李*"), as addresses are masked on a parcel."""
    name = name.strip()
    if " " in name:
        return name.split()[0]
    if len(name) >= 2 and any(unicodedata.east_asian_width(ch) == "W" for ch in name):
        if len(name) == 2:
            return name[0] + "*"
        return name[0] + "*" * (len(name) - 2) + name[-1]
    return name


def for_group(work: Work, language: str, key: str, resident: Person, **fields: object) -> str:
    """Render a text meant for a group chat: the resident appears as `{name}` (first
    name) and `{building}` only. Address and phone cannot be passed in."""
    for private in ("phone", "address", "family", "place"):
        if private in fields:
            raise ValueError(f"{private} may not be posted to a group")
    return work.texts.render(
        language,
        key,
        **fields,
        name=first_name(resident.name),
        building=resident.building or "-",
    )


async def family_line(work: Work, resident: Person, language: str) -> str:
    """The resident's family contacts: name, relation when known, phone."""
    return family_text(work, await work.tx.family_of(resident.id), language)


def family_text(work: Work, family: Sequence[Person], language: str) -> str:
    return work.texts.render(language, "list_separator").join(
        work.texts.render(
            language,
            "family_contact_relation" if p.relation else "family_contact",
            name=p.name,
            relation=p.relation,
            phone=p.phone,
        ).strip()
        for p in family
    )


async def audit_reveal(
    tx: Tx, now: datetime, resident_id: int, actor: int | None, what: str, why: str
) -> None:
    """Every time someone is shown a resident's address or phone: who, what, when, why."""
    await tx.audit(now, "reveal", f"person:{resident_id}", actor, f"{what} | {why}")


async def reveal(
    work: Work, viewer: Person, resident: Person, *, purpose: Purpose, ref: int, why: str
) -> None:
    """Send `viewer` the resident's address, phone and family privately (they took the
    need or alert from a group). Only once per viewer and thing."""
    for row in await work.tx.outbox_for(purpose, ref):
        if row.person_id == viewer.id and row.state != OutboxState.CANCELLED:
            return
    key = "reveal_need" if purpose is Purpose.REVEAL_NEED else "reveal_alert"
    text = work.texts.render(
        viewer.language,
        key,
        need=ref,
        alert=ref,
        name=resident.name,
        address=resident.address or "-",
        phone=resident.phone or "-",
        family=await family_line(work, resident, viewer.language) or "-",
    )
    sent = await to_person(work, viewer, text, priority=Priority.ALERT, purpose=purpose, ref=ref)
    if sent:
        await audit_reveal(
            work.tx, work.now, resident.id, viewer.id, "address, phone, family (chat)", why
        )


async def conceal(work: Work, purpose: Purpose, ref: int, resident: Person) -> None:
    """The need or alert is closed: the private messages that carried the resident's
    address and phone are edited to say so, without them."""
    key = "concealed_need" if purpose is Purpose.REVEAL_NEED else "concealed_alert"
    for row in await work.tx.outbox_for(purpose, ref):
        if row.state in (OutboxState.FAILED, OutboxState.CANCELLED):
            continue
        reader = None if row.person_id is None else await work.tx.person(row.person_id)
        language = reader.language if reader else resident.language
        await edit(
            work,
            row,
            work.texts.render(language, key, need=ref, alert=ref, name=first_name(resident.name)),
            priority=Priority.ALERT,
        )


# -- consent ---------------------------------------------------------------------------


def notice_version(work: Work, language: str) -> str:
    """The version of the privacy notice a resident was shown: a digest of its text, so
    that an operator's change to the wording is a new version."""
    text = privacy_notice(work, language)
    return "notice-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def privacy_notice(work: Work, language: str) -> str:
    return work.texts.render(
        language, "privacy_notice", days=work.config.retention.message_texts.days
    )


async def record_resident_consent(work: Work, resident: Person, how: str) -> None:
    await work.tx.add_consent(
        resident.id,
        0,
        ConsentDecision.GIVEN,
        notice_version(work, resident.language),
        work.now,
        how,
    )


def _about(person: Person) -> int:
    return int(person.family_of) if person.role == Role.FAMILY and person.family_of else 0


async def has_consented(work: Work, person: Person) -> bool:
    """Whether this responder may be told about residents."""
    if person.role not in CONSENT_ROLES:
        return True
    return await work.tx.consent_decision(person.id, _about(person)) == ConsentDecision.GIVEN


async def consenting(work: Work, people: list[Person]) -> list[Person]:
    """Of these responders, the ones who may hear about residents. Those never asked
    are asked now (and hear nothing this time)."""
    kept = []
    for person in people:
        if person.role not in CONSENT_ROLES:
            kept.append(person)
            continue
        decision = await work.tx.consent_decision(person.id, _about(person))
        if decision == ConsentDecision.GIVEN:
            kept.append(person)
        elif decision is None:
            await ask_consent(work, person)
    return kept


async def _subject(work: Work, person: Person, language: str) -> str:
    """Whom a contact's consent is about, in their words."""
    if person.role == Role.FAMILY and person.family_of:
        resident = await work.tx.person(person.family_of)
        if resident is not None:
            return resident.name
    return work.texts.render(language, "consent_about_grid", grid=person.grid or "-")


async def ask_consent(work: Work, person: Person) -> None:
    """ "接收王秀英的提醒？[同意] [不同意]" — nothing else about the resident is sent."""
    if person.role not in CONSENT_ROLES:
        return
    lang = person.language
    about = _about(person)
    if person.role == Role.FAMILY and about:
        text = work.texts.render(
            lang,
            "consent_ask_family",
            name=person.name,
            resident=await _subject(work, person, lang),
        )
    else:
        text = work.texts.render(
            lang,
            "consent_ask_team",
            name=person.name,
            grid=person.grid or work.texts.render(lang, "every_grid"),
        )
    buttons = (
        (
            Button(
                work.texts.render(lang, "btn_consent_yes"),
                work.signer.token(ActionKind.CONSENT_YES, about, person.id),
                "✅",
            ),
            Button(
                work.texts.render(lang, "btn_consent_no"),
                work.signer.token(ActionKind.CONSENT_NO, about, person.id),
                "❌",
            ),
        ),
    )
    sent = await to_person(
        work, person, text, priority=Priority.REPLY, buttons=buttons, purpose=Purpose.CONSENT
    )
    if sent:
        await work.tx.add_consent(person.id, about, ConsentDecision.ASKED, "", work.now)
        await work.tx.audit(work.now, "consent.asked", f"person:{person.id}", None, str(about))


# Asked per pass of `ask_new_contacts`: a large import is asked over a few passes.
ASK_PER_PASS = 500


async def ask_new_contacts(work: Work) -> int:
    """Family contacts and volunteers an operator added with a chat account (people
    import) are asked at once, not only when the first alert would reach them."""
    asked = 0
    for person_id in await work.tx.contacts_never_asked(ASK_PER_PASS):
        person = await work.tx.person(person_id)
        if person is not None:
            await ask_consent(work, person)
            asked += 1
    return asked


async def _tell_operators(work: Work, person: Person, key: str, about_text: str) -> None:
    grid = person.grid
    if person.role == Role.FAMILY and person.family_of:
        resident = await work.tx.person(person.family_of)
        grid = resident.grid if resident else grid
    for operator in await work.tx.responders(grid, Role.OPERATOR.value):
        if operator.id == person.id:
            continue
        await to_person(
            work,
            operator,
            work.texts.render(
                operator.language,
                key,
                name=person.name,
                about=about_text,
                time=hm(work.now, operator.timezone),
            ),
            priority=Priority.REPLY,
        )


async def decide(work: Work, person: Person, about: int, agree: bool) -> str:
    """A contact's answer to the consent question; returns what to show them."""
    lang = person.language
    if person.role not in CONSENT_ROLES or about != _about(person):
        return work.texts.render(lang, "not_allowed")
    decision = ConsentDecision.GIVEN if agree else ConsentDecision.REFUSED
    question = "consent_ask_family" if person.role == Role.FAMILY else "consent_ask_team"
    version = (
        "question-" + hashlib.sha256(work.texts.render(lang, question).encode()).hexdigest()[:12]
    )
    await work.tx.add_consent(person.id, about, decision, version, work.now)
    await work.tx.audit(
        work.now, f"consent.{decision.value}", f"person:{person.id}", person.id, str(about)
    )
    subject = await _subject(work, person, lang)
    if agree:
        return work.texts.render(lang, "consent_given", time=hm(work.now, person.timezone))
    log.info("person %s refused to receive alerts about %s", person.id, about or "their grid")
    await _tell_operators(work, person, "consent_refused_notice", subject)
    return work.texts.render(lang, "consent_refused", about=subject)


async def withdraw(work: Work, person: Person) -> str:
    """`/stop` from a family contact or volunteer: nothing more about residents."""
    lang = person.language
    if person.role not in CONSENT_ROLES:
        return work.texts.render(lang, "stop_responder")
    about = _about(person)
    await work.tx.add_consent(person.id, about, ConsentDecision.WITHDRAWN, "", work.now)
    await work.tx.audit(work.now, "consent.withdrawn", f"person:{person.id}", person.id)
    subject = await _subject(work, person, lang)
    await _tell_operators(work, person, "consent_withdrawn_notice", subject)
    return work.texts.render(lang, "consent_withdrawn", about=subject)


# -- erasure ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Forgotten:
    """What `forget` did: erased (with counts), or refused because of an open alert."""

    erased: dict[str, int]
    open_alert: int | None = None


async def forget(work: Work, person: Person, requested_by: str) -> Forgotten:
    """Erase a person's personal data and messages, keeping anonymous counts. Refused
    while an alert about them is open (the people handling it still need them). Their
    grid leaders are told first."""
    alert = await work.tx.unresolved_alert_of(person.id)
    if alert is not None:
        return Forgotten({}, open_alert=int(alert.id))
    if person.role == Role.RESIDENT:
        for leader in await work.tx.responders(person.grid, Role.GRID_LEADER.value):
            await to_person(
                work,
                leader,
                work.texts.render(
                    leader.language, "forget_notice", name=person.name, place=person.place or "-"
                ),
                priority=Priority.REPLY,
            )
    erased = await work.tx.forget_person(person.id, work.now)
    await work.tx.add_consent(person.id, 0, ConsentDecision.FORGOTTEN, "", work.now, requested_by)
    await work.tx.audit(
        work.now,
        "person.forgotten",
        f"person:{person.id}",
        None,
        f"requested by {requested_by}: " + json.dumps(erased, sort_keys=True),
    )
    log.info("person %s forgotten (requested by %s)", person.id, requested_by)
    return Forgotten(erased)


# -- retention -------------------------------------------------------------------------


def next_retention_run(work: Work, after: datetime) -> datetime:
    zone = ZoneInfo(work.config.timezone)
    local = after.astimezone(zone)
    run_at = work.config.retention.run_at
    candidate = datetime.combine(local.date(), run_at, tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), run_at, tzinfo=zone)
    return candidate.astimezone(UTC)


async def ensure_retention_timer(work: Work) -> bool:
    """The daily job has its timer (added at start-up and whenever it went missing)."""
    if await work.tx.timers_of_kind(TIMER_RETENTION):
        return False
    await work.tx.add_timer(next_retention_run(work, work.now), TIMER_RETENTION, 0, "", work.now)
    work.timers_added = True
    return True


async def run_retention(work: Work) -> dict[str, int]:
    """Reduce and delete what has expired; what was done is kept for `status`."""
    keep = work.config.retention
    texts_before = work.now - keep.message_texts
    done_until = await work.tx.kv_get("retention.texts_until")
    since = _EPOCH if done_until is None else datetime.fromisoformat(done_until)
    counts = await work.tx.apply_retention(
        min(since, texts_before),
        texts_before,
        work.now - keep.records,
        work.now - keep.audit,
    )
    await work.tx.kv_set("retention.texts_until", texts_before.isoformat())
    await work.tx.kv_set("retention.last", json.dumps({"at": work.now.isoformat(), **counts}))
    await work.tx.audit(work.now, "retention.applied", "", None, json.dumps(counts, sort_keys=True))
    log.info("retention: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
    return counts


def last_retention(raw: str | None) -> tuple[datetime, dict[str, int]] | None:
    """What the daily job did last (as kept by `run_retention`)."""
    if not raw:
        return None
    data = json.loads(raw)
    at = datetime.fromisoformat(data.pop("at"))
    return at, {str(k): int(v) for k, v in data.items()}


routes = Routes()


@routes.timer(TIMER_RETENTION)
async def _retention_due(work: Work, timer: Timer) -> None:
    day = work.now.astimezone(ZoneInfo(work.config.timezone)).date().isoformat()
    last = await work.tx.kv_get("retention.day")
    # Two instances (or two timers made at once) fire it once: the day is claimed.
    if last == day or not await work.tx.kv_claim("retention.day", last, day):
        return
    await run_retention(work)
    await work.tx.add_timer(next_retention_run(work, work.now), TIMER_RETENTION, 0, "", work.now)
    work.timers_added = True


@routes.command("forget")
async def _forget_command(
    work: Work, person: Person, event: MessageReceived, args: list[str]
) -> None:
    if person.role != Role.RESIDENT:
        await reply(work, event, person, "forget_responder")
        return
    lang = person.language
    buttons = (
        (
            Button(
                work.texts.render(lang, "btn_forget_yes"),
                work.signer.token(ActionKind.FORGET_YES, person.id, person.id),
                "🗑",
            ),
            Button(
                work.texts.render(lang, "btn_forget_no"),
                work.signer.token(ActionKind.FORGET_NO, person.id, person.id),
                "↩",
            ),
        ),
    )
    await to_person(
        work,
        person,
        work.texts.render(lang, "forget_confirm"),
        priority=Priority.REPLY,
        buttons=buttons,
    )


@routes.button(ActionKind.FORGET_YES, ActionKind.FORGET_NO)
async def _forget_pressed(
    work: Work, person: Person, event: ButtonPressed, action: ActionToken
) -> None:
    lang = person.language
    if action.issued_to != person.id or action.ref != person.id:
        await feedback(work, event, person, work.texts.render(lang, "not_allowed"))
        return
    if action.kind is ActionKind.FORGET_NO:
        await feedback(work, event, person, work.texts.render(lang, "forget_cancelled"))
        return
    result = await forget(work, person, f"{person.name} (/forget)")
    if result.open_alert is not None:
        await feedback(
            work,
            event,
            person,
            work.texts.render(lang, "forget_open_alert", alert=result.open_alert),
        )
        return
    # Their chat is no longer theirs in the database: the last word goes to it directly.
    done = work.texts.render(lang, "forget_done")
    await to_chat(work, event.chat, done, priority=Priority.REPLY)
    await answer_press(work, event.chat, event.callback_id, done)


@routes.button(ActionKind.CONSENT_YES, ActionKind.CONSENT_NO)
async def _consent_pressed(
    work: Work, person: Person, event: ButtonPressed, action: ActionToken
) -> None:
    if action.issued_to != person.id:
        await feedback(work, event, person, work.texts.render(person.language, "not_allowed"))
        return
    text = await decide(work, person, action.ref, action.kind is ActionKind.CONSENT_YES)
    await feedback(work, event, person, text)
