"""Joining by invitation: a one-time code binds a chat to a person, or a group to a team."""

from __future__ import annotations

import secrets

from core.commands import Priority
from core.enums import Role
from core.events import Sender
from core.ids import ChatRef, PersonId
from core.records import Person
from workflows import privacy
from workflows.context import Work
from workflows.messaging import to_chat

# No 0/O/1/I/L: the code may be read out over the phone or typed from a printed card.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_code() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


async def invite(work: Work, *, person_id: PersonId | None, team: str | None) -> str:
    code = new_code()
    await work.tx.add_invite(code, person_id, team, work.now, work.now + work.config.invite_ttl)
    await work.tx.audit(
        work.now, "invite.created", f"person:{person_id}" if person_id else f"team:{team}"
    )
    return code


async def redeem(work: Work, code: str, sender: Sender, chat: ChatRef, is_group: bool) -> bool:
    """Spend the code and bind. Returns False (and answers plainly) when it is not valid."""
    code = code.strip().upper()
    # A team's code belongs in the team's group: spent in a private chat, it would make
    # that private chat the team's channel.
    team_code_in_private = not is_group and await work.tx.invite_is_for_team(code)
    if not team_code_in_private and await _would_take_identity(work, code, sender, chat):
        return False
    invite_row = (
        None if team_code_in_private else await work.tx.spend_invite(code, work.now, sender.address)
    )
    if invite_row is None:
        await to_chat(
            work,
            chat,
            work.texts.render("zh", "invite_invalid")
            + "\n"
            + work.texts.render("en", "invite_invalid"),
            priority=Priority.REPLY,
        )
        return False
    if invite_row.team is not None:
        await work.tx.link_team_chat(invite_row.team, chat)
        await work.tx.audit(work.now, "team.linked", f"team:{invite_row.team}", None, chat)
        await to_chat(
            work,
            chat,
            work.texts.render("zh", "welcome_team", team=invite_row.team),
            priority=Priority.REPLY,
        )
        return True
    assert invite_row.person_id is not None
    person = await work.tx.person(invite_row.person_id)
    if person is None:
        return False
    # A private chat is where we write to them; in a group we still bind the person
    # but keep writing to them privately is impossible, so the group chat is used.
    await work.tx.bind_identity(person.id, sender.platform, sender.address, chat, work.now)
    await work.tx.set_active(person.id, True)
    await work.tx.audit(
        work.now,
        "person.enrolled",
        f"person:{person.id}",
        person.id,
        f"{sender.platform}:{sender.address}",
    )
    await to_chat(work, chat, welcome_text(work, person), priority=Priority.REPLY, person=person)
    if person.role == Role.RESIDENT:
        # Their /start, after the notice of what is kept and who sees it, is their consent.
        await privacy.record_resident_consent(work, person, f"/start {sender.platform}")
    elif person.role in privacy.CONSENT_ROLES and not await privacy.has_consented(work, person):
        # The double opt-in: their own invitation, then "receive X's alerts?".
        await privacy.ask_consent(work, person)
    return True


def welcome_text(work: Work, person: Person) -> str:
    lang = person.language
    if person.role == Role.RESIDENT:
        plan = work.config.plans.get(person.plan)
        when = describe_schedule(plan.schedule) if plan else ""
        return (
            work.texts.render(lang, "welcome_resident", name=person.name, when=when)
            + "\n\n"
            + privacy.privacy_notice(work, lang)
        )
    role = work.texts.render(lang, f"role_{person.role}")
    return work.texts.render(lang, "welcome_responder", name=person.name, role=role)


def describe_schedule(cron: str) -> str:
    """A plan's daily time as people read it ("09:00"); any other cron as it is."""
    fields = cron.split()
    minute, hour = fields[0], fields[1]
    if minute.isdigit() and hour.isdigit():
        return f"{int(hour):02d}:{int(minute):02d}"
    return cron


async def _would_take_identity(work: Work, code: str, sender: Sender, chat: ChatRef) -> bool:
    """An invitation never moves a chat account away from the person it belongs to:
    a leader opening a resident's link would lose their own alerts, and the resident
    whose account it was would drop out of check-ins. Refuse, say why, keep the code."""
    invite_row = await work.tx.open_invite(code, work.now)
    if invite_row is None or invite_row.person_id is None:
        return False
    existing = await work.tx.identity(sender.platform, sender.address)
    if existing is None:
        return False
    holder = await work.tx.person(existing.person_id)
    if holder is None:
        return False
    if existing.person_id == invite_row.person_id:
        await to_chat(
            work,
            chat,
            work.texts.render(holder.language, "invite_already_bound", name=holder.name),
            priority=Priority.REPLY,
            person=holder,
        )
        return True
    await work.tx.audit(
        work.now,
        "invite.refused",
        f"person:{invite_row.person_id}",
        holder.id,
        f"{sender.platform} account already enrolled as person {holder.id}",
    )
    await to_chat(
        work,
        chat,
        work.texts.render(holder.language, "identity_taken", other=holder.name),
        priority=Priority.REPLY,
        person=holder,
    )
    return True
