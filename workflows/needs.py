"""Needs: "my medicine ran out" becomes a record routed to the team that handles it.

A need is recorded by the resident (`/need 药 降压药没了`) or for them by a responder
(`/need 王秀英 药 降压药没了`), posted to the chats of the team whose `handles` list its
kind (the grid leader when no team does), taken with one tap and followed until done —
the table the care team keeps today, exported by `carecheck needs export`.
"""

from __future__ import annotations

import logging

from core.commands import Button, Priority
from core.enums import NeedState, Purpose, Role
from core.events import ButtonPressed, MessageReceived
from core.ids import ChatRef, PersonId, split_chat_ref
from core.records import Need, Person
from workflows import privacy
from workflows.actions import ActionKind, ActionToken
from workflows.context import Work
from workflows.messaging import edit, to_chat, to_person
from workflows.routes import Routes, feedback, reply, reply_text
from workflows.texts.help_words import need_kind
from workflows.timefmt import hm

log = logging.getLogger(__name__)

PURPOSE_NEED = Purpose.NEED
HANDLER_ROLES = frozenset({Role.TEAM_MEMBER, Role.CARE_LEAD, Role.OPERATOR, Role.GRID_LEADER})
# Messages to a team chat are not issued to one person: anyone who may handle it can tap.
ANYONE = PersonId(0)


def team_for(work: Work, kind: str) -> str:
    for name, team in work.config.teams.items():
        if kind in team.handles:
            return name
    return ""


def may_handle(resident: Person, person: Person) -> bool:
    if person.role not in HANDLER_ROLES:
        return False
    return person.role != Role.GRID_LEADER or person.grid in ("", resident.grid)


async def record(work: Work, by: Person, args: list[str], chat: ChatRef) -> None:
    """`/need KIND TEXT` from a resident; `/need NAME KIND TEXT` from a responder."""
    lang = by.language
    resident: Person | None = by if by.role == Role.RESIDENT else None
    if resident is None and args:
        resident = await work.tx.person_by_name(args[0])
        args = args[1:]
    kind = need_kind(args[0]) if args else None
    text = " ".join(args[1:]).strip()
    allowed = resident is not None and (
        by.id == resident.id or may_handle(resident, by) or by.family_of == resident.id
    )
    if resident is None or resident.role != Role.RESIDENT or kind is None or not text:
        await to_chat(
            work, chat, work.texts.render(lang, "usage_need"), priority=Priority.REPLY, person=by
        )
        return
    if not allowed:
        await to_chat(
            work,
            chat,
            work.texts.render(lang, "need_not_allowed"),
            priority=Priority.REPLY,
            person=by,
        )
        return
    team = team_for(work, kind)
    need_id = await work.tx.create_need(resident.id, kind, text, team, by.id, work.now)
    need = await work.tx.need(need_id)
    assert need is not None
    await work.tx.audit(work.now, "need.opened", f"need:{need_id}", by.id, kind)
    log.info(
        "need %s (%s) for person %s routed to %s", need_id, kind, resident.id, team or "grid leader"
    )
    team_label = await _post(work, need, resident, lang)
    await to_chat(
        work,
        chat,
        work.texts.render(
            lang,
            "need_recorded",
            need=need_id,
            kind=work.texts.render(lang, f"kind_{kind}"),
            team=team_label,
        ),
        priority=Priority.REPLY,
        person=by,
    )


async def need_text(
    work: Work, need: Need, resident: Person, language: str, *, group: bool = False
) -> str:
    """The need as posted: in full to a person's own chat; to a group (a team's chat, a
    group channel the gateway posts to) by the resident's first name and building only
    (need to know: whoever takes it is told the rest)."""
    kind = work.texts.render(language, f"kind_{need.kind}")
    if group:
        text = privacy.for_group(
            work, language, "need_posted_group", resident, need=need.id, kind=kind, text=need.text
        )
    else:
        by = await work.tx.person(need.created_by) if need.created_by else None
        text = work.texts.render(
            language,
            "need_posted",
            need=need.id,
            kind=kind,
            name=resident.name,
            place=resident.place or "-",
            phone=resident.phone or "-",
            text=need.text,
            by=by.name if by else "-",
        )
    if need.state == NeedState.OPEN:
        footer = work.texts.render(language, "need_footer_open")
    else:
        who_id = need.claimed_by if need.state == NeedState.CLAIMED else need.closed_by
        when = need.claimed_at if need.state == NeedState.CLAIMED else need.closed_at
        who = await work.tx.person(who_id) if who_id else None
        footer = work.texts.render(
            language,
            f"need_footer_{need.state}",
            who=who.name if who else "-",
            time=hm(when, resident.timezone) if when else "",
        )
    return f"{text}\n{footer}"


def _buttons(work: Work, need: Need, language: str) -> tuple[tuple[Button, ...], ...]:
    claim = Button(
        work.texts.render(language, "btn_claim"),
        work.signer.token(ActionKind.NEED_CLAIM, need.id, ANYONE),
        "🙋",
    )
    done = Button(
        work.texts.render(language, "btn_done"),
        work.signer.token(ActionKind.NEED_DONE, need.id, ANYONE),
        "✔️",
    )
    if need.state == NeedState.OPEN:
        return ((claim, done),)
    if need.state == NeedState.CLAIMED:
        return ((done,),)
    return ()


async def _post(work: Work, need: Need, resident: Person, reader_language: str) -> str:
    """Post the need where it is handled; returns who has it, in the reader's words:
    the team's name, or the grid leaders it went to when the team cannot be reached."""
    language = resident.language
    chats: list[ChatRef] = []
    if need.team:
        team = work.config.teams[need.team]
        chats.append(ChatRef(team.channel))
        chats.extend(await work.tx.team_chats(need.team))
    text = await need_text(work, need, resident, language, group=True)
    buttons = _buttons(work, need, language)
    chats = [c for c in dict.fromkeys(chats) if work.reachable(split_chat_ref(c)[0])]
    for chat in chats:
        await to_chat(
            work,
            chat,
            text,
            priority=Priority.ALERT,
            buttons=buttons,
            purpose=PURPOSE_NEED,
            ref=need.id,
        )
    if chats:
        return work.config.teams[need.team].display_name
    leaders = await work.tx.responders(resident.grid, Role.GRID_LEADER)
    for leader in leaders:
        await to_person(
            work,
            leader,
            await need_text(work, need, resident, leader.language),
            priority=Priority.ALERT,
            buttons=_buttons(work, need, leader.language),
            purpose=PURPOSE_NEED,
            ref=need.id,
        )
    return work.texts.render(
        reader_language,
        "team_grid_leader",
        name=work.texts.render(reader_language, "list_separator").join(p.name for p in leaders)
        or "-",
    )


async def act(work: Work, need_id: int, person: Person, action: NeedState) -> str:
    """Claim, finish or cancel a need; every posted copy is edited to show it."""
    lang = person.language
    need = await work.tx.need(need_id)
    resident = None if need is None else await work.tx.person(need.person_id)
    if need is None or resident is None:
        return work.texts.render(lang, "need_unknown", need=need_id)
    if not may_handle(resident, person) and not (
        action == NeedState.CANCELLED and person.id in (need.created_by, need.person_id)
    ):
        return work.texts.render(lang, "need_not_allowed")
    if action == NeedState.CLAIMED:
        changed = await work.tx.claim_need(need.id, person.id, work.now)
    else:
        changed = await work.tx.close_need(need.id, person.id, work.now, action)
    if not changed:
        state = work.texts.render(lang, f"need_state_{need.state}")
        return work.texts.render(lang, "need_already", need=need.id, state=state)
    await work.tx.audit(work.now, f"need.{action}", f"need:{need.id}", person.id)
    updated = await work.tx.need(need.id)
    assert updated is not None
    private_copy = False
    for row in await work.tx.outbox_for(PURPOSE_NEED, need.id):
        # A group post has no person; a grid leader's own copy has.
        reader = await work.tx.person(row.person_id) if row.person_id else None
        private_copy = private_copy or row.person_id == person.id
        language = reader.language if reader else resident.language
        await edit(
            work,
            row,
            await need_text(work, updated, resident, language, group=reader is None),
            buttons=_buttons(work, updated, language),
            priority=Priority.ALERT,
        )
    if action == NeedState.CLAIMED and not private_copy:
        await privacy.reveal(
            work,
            person,
            resident,
            purpose=Purpose.REVEAL_NEED,
            ref=need.id,
            why=f"claimed need #{need.id}",
        )
    elif action != NeedState.CLAIMED:
        await privacy.conceal(work, Purpose.REVEAL_NEED, need.id, resident)
    key = {NeedState.CLAIMED: "need_claimed", NeedState.DONE: "need_done"}.get(action, "need_done")
    return work.texts.render(lang, key, need=need.id)


routes = Routes()


@routes.command("need")
async def _need_command(
    work: Work, person: Person, event: MessageReceived, args: list[str]
) -> None:
    await record(work, person, args, event.chat)


@routes.command("claim", "done", "cancel")
async def _act_command(work: Work, person: Person, event: MessageReceived, args: list[str]) -> None:
    if not args or not args[0].lstrip("#").isdigit():
        await reply(work, event, person, "usage_need")
        return
    name = event.text.strip()[1:].split()[0].split("@", 1)[0].lower()
    action = {"claim": NeedState.CLAIMED, "done": NeedState.DONE, "cancel": NeedState.CANCELLED}[
        name
    ]
    await reply_text(work, event, person, await act(work, int(args[0].lstrip("#")), person, action))


@routes.button(ActionKind.NEED_CLAIM, ActionKind.NEED_DONE)
async def _need_pressed(
    work: Work, person: Person, event: ButtonPressed, action: ActionToken
) -> None:
    action_name = NeedState.CLAIMED if action.kind is ActionKind.NEED_CLAIM else NeedState.DONE
    await feedback(work, event, person, await act(work, action.ref, person, action_name))
