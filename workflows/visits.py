"""Proxy visits: `/visited 王秀英 ok` or `/visited 王秀英 concern 腿肿了`.

A responder, family member, team member or caller who saw the resident says so. It is
that day's sign of life: an open check-in is answered by proxy (answer `visit`), an
alert opened by silence stands down (a call for help does not), and it is recorded as
the resident's last human contact. `concern` also opens a normal alert with the note.
"""

from __future__ import annotations

from core.enums import Role
from core.events import MessageReceived
from core.records import AlertReason, ContactKind, Person
from workflows import checkin, escalation
from workflows.context import Work
from workflows.routes import Audience, Routes, reply, reply_text

routes = Routes()

OK_WORDS = frozenset({"ok", "平安", "好", "fine"})
CONCERN_WORDS = frozenset({"concern", "担心", "关注", "worried"})


async def visited(work: Work, resident: Person, by: Person, note: str, concern: bool) -> str:
    """Record the visit; returns the text for the visitor."""
    lang = by.language
    _, stood_down = await checkin.record_proxy_answer(work, resident, by, ContactKind.VISIT, note)
    await work.tx.audit(
        work.now,
        "person.visited",
        f"person:{resident.id}",
        by.id,
        ("concern: " if concern else "") + note,
    )
    if not concern:
        text = work.texts.render(lang, "visited_ok", name=resident.name)
    else:
        said = escalation.marked("visit_concern_said", who=by.name, note=note)
        open_alert = await work.tx.unresolved_alert_of(resident.id)
        if open_alert is not None:
            # A call for help is already being handled: the visitor's word goes on it.
            await escalation.add_note(work, open_alert, by, note)
            alert_id = open_alert.id
        else:
            alert_id = await escalation.open_alert(
                work, resident, AlertReason.REPORTED, checkin_id=None, said=said
            )
        text = work.texts.render(lang, "visited_concern", name=resident.name, alert=alert_id)
    if stood_down is not None:
        text += "\n" + work.texts.render(lang, "visited_stood_down", alert=stood_down)
    return text


@routes.command("visited", audience=Audience.RESPONDERS)
async def _visited_command(
    work: Work, person: Person, event: MessageReceived, args: list[str]
) -> None:
    at = next((i for i, w in enumerate(args) if i and w.lower() in OK_WORDS | CONCERN_WORDS), None)
    if at is None:
        await reply(work, event, person, "usage_visited")
        return
    name = " ".join(args[:at])
    concern = args[at].lower() in CONCERN_WORDS
    note = " ".join(args[at + 1 :])
    if concern and not note:
        await reply(work, event, person, "usage_visited")
        return
    resident = await work.tx.person_by_name(name)
    if resident is None or resident.role != Role.RESIDENT:
        await reply(work, event, person, "unknown_person", name=name)
        return
    if not escalation.may_act_for(resident, person):
        await reply(work, event, person, "not_yours", name=resident.name)
        return
    await reply_text(work, event, person, await visited(work, resident, person, note, concern))
