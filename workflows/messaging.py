"""Writing outbound messages into the outbox, inside the workflow's transaction."""

from __future__ import annotations

from core.commands import Button, Priority
from core.enums import OutboxState, Purpose
from core.ids import ChatRef, OutboxId, split_chat_ref
from core.outbox import NewMessage, OutboxRow
from core.records import Identity, Person
from workflows.context import Work


async def to_chat(
    work: Work,
    chat: ChatRef,
    text: str,
    *,
    priority: Priority,
    person: Person | None = None,
    buttons: tuple[tuple[Button, ...], ...] = (),
    purpose: str = "",
    ref: int = 0,
    callback_id: str = "",
    links: tuple[tuple[str, str], ...] = (),
) -> OutboxId:
    platform, _ = split_chat_ref(chat)
    work.touched_platforms.add(platform)
    return await work.tx.enqueue(
        platform,
        NewMessage(
            chat=chat,
            text=text,
            priority=priority,
            person_id=None if person is None else person.id,
            purpose=purpose,
            ref=ref,
            buttons=buttons,
            callback_id=callback_id,
            links=links,
        ),
        work.now,
    )


async def to_person(
    work: Work,
    person: Person,
    text: str,
    *,
    priority: Priority,
    buttons: tuple[tuple[Button, ...], ...] = (),
    purpose: str = "",
    ref: int = 0,
    links: tuple[tuple[str, str], ...] = (),
) -> list[OutboxId]:
    """Send to every chat the person is reachable on (usually one)."""
    ids = []
    for identity in chats_to_reach(work, await work.tx.identities_of(person.id)):
        ids.append(
            await to_chat(
                work,
                identity.chat,
                text,
                priority=priority,
                person=person,
                buttons=buttons,
                purpose=purpose,
                ref=ref,
                links=links,
            )
        )
    return ids


def chats_to_reach(work: Work, identities: list[Identity]) -> list[Identity]:
    """Of a person's identities, the ones a message to them goes to: the chats this
    gateway can reach now; with none, all of them (queued for when it can)."""
    live = [i for i in identities if work.reachable(i.platform)]
    return live or identities


def edit_of_sent(original: OutboxRow, text: str, priority: Priority = Priority.REPLY) -> NewMessage:
    """The edit of a message that has left the outbox (or is being sent): new text, no
    buttons."""
    return NewMessage(
        chat=original.chat,
        text=text,
        priority=priority,
        person_id=original.person_id,
        purpose=Purpose.EDIT,
        ref=original.ref,
        edit_of=original.id,
    )


async def edit(
    work: Work,
    original: OutboxRow,
    text: str,
    *,
    buttons: tuple[tuple[Button, ...], ...] = (),
    priority: Priority = Priority.REPLY,
) -> OutboxId | None:
    """Edit a message sent earlier. Nobody can have seen it yet (`cancel_unsent`)?
    Cancel it and send the new text instead: nobody needs the outdated version. Failed
    for good? Nothing to edit."""
    outbox_id, _ = await edit_or_replace(work, original, text, buttons=buttons, priority=priority)
    return outbox_id


async def edit_or_replace(
    work: Work,
    original: OutboxRow,
    text: str,
    *,
    buttons: tuple[tuple[Button, ...], ...] = (),
    priority: Priority = Priority.REPLY,
) -> tuple[OutboxId | None, bool]:
    """`edit`, saying also whether the new row replaces the original (which was still
    unsent and is now cancelled) rather than editing it. A row read as pending may be
    on its way to the platform at this moment: then it is edited, not replaced."""
    if original.state == OutboxState.FAILED:
        return None, False
    replaced = await cancel_unsent(work, original)
    edit_of = None if replaced else original.id
    work.touched_platforms.add(original.platform)
    outbox_id = await work.tx.enqueue(
        original.platform,
        NewMessage(
            chat=original.chat,
            text=text,
            priority=priority,
            person_id=original.person_id,
            purpose=original.purpose if edit_of is None else Purpose.EDIT,
            ref=original.ref,
            buttons=buttons,
            edit_of=edit_of,
        ),
        work.now,
    )
    return outbox_id, replaced


async def cancel_unsent(work: Work, row: OutboxRow) -> bool:
    """Cancel a message nobody can have seen yet; False when it may be showing: sent,
    being sent right now, or on a platform where a crash between a send and its record
    leaves it pending although it went out (it is then sent again, and recognised)."""
    if row.state != OutboxState.PENDING or row.platform in work.resends_deduplicated:
        return False
    return bool(await work.tx.cancel_pending([row.id]))


async def answer_press(work: Work, chat: ChatRef, callback_id: str, text: str) -> None:
    """Answer a button press (a Telegram toast) when the platform asks for it."""
    if callback_id:
        await to_chat(work, chat, text, priority=Priority.REPLY, callback_id=callback_id)
