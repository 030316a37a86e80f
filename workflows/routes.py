"""How events reach the workflows: each workflow registers its commands, button
actions and timer kinds on a `Routes` of its own, and the router merges them and only
dispatches (the way aiogram's routers are included into a dispatcher)."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from core.commands import Priority
from core.enums import Role
from core.events import ButtonPressed, MessageReceived
from core.records import Person, Timer
from workflows.actions import ActionKind, ActionToken
from workflows.context import Work
from workflows.messaging import answer_press, to_chat


class Audience(enum.Enum):
    """Who a command is for; anyone else gets the short help, as for an unknown one."""

    ANYONE = "anyone"
    RESIDENTS = "residents"
    RESPONDERS = "responders"

    def admits(self, person: Person) -> bool:
        resident = person.role == Role.RESIDENT
        match self:
            case Audience.RESIDENTS:
                return resident
            case Audience.RESPONDERS:
                return not resident
            case _:
                return True


# Events other than messages and presses (a sign of life from a sensor), by their type.
EventHandler = Callable[[Work, Any], Awaitable[None]]
CommandHandler = Callable[[Work, Person, MessageReceived, list[str]], Awaitable[None]]
ButtonHandler = Callable[[Work, Person, ButtonPressed, ActionToken], Awaitable[None]]
TimerHandler = Callable[[Work, Timer], Awaitable[None]]


@dataclass(frozen=True)
class Command:
    handler: CommandHandler
    audience: Audience


class Routes:
    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}
        self.buttons: dict[ActionKind, ButtonHandler] = {}
        self.timers: dict[str, TimerHandler] = {}
        self.events: dict[type, EventHandler] = {}

    def command(
        self, *names: str, audience: Audience = Audience.ANYONE
    ) -> Callable[[CommandHandler], CommandHandler]:
        def register(handler: CommandHandler) -> CommandHandler:
            for name in names:
                _add(self.commands, name, Command(handler, audience), "command")
            return handler

        return register

    def button(self, *kinds: ActionKind) -> Callable[[ButtonHandler], ButtonHandler]:
        def register(handler: ButtonHandler) -> ButtonHandler:
            for kind in kinds:
                _add(self.buttons, kind, handler, "button action")
            return handler

        return register

    def timer(self, *kinds: str) -> Callable[[TimerHandler], TimerHandler]:
        def register(handler: TimerHandler) -> TimerHandler:
            for kind in kinds:
                _add(self.timers, kind, handler, "timer kind")
            return handler

        return register

    def event(self, *types: type) -> Callable[[EventHandler], EventHandler]:
        def register(handler: EventHandler) -> EventHandler:
            for kind in types:
                _add(self.events, kind, handler, "event type")
            return handler

        return register

    def include(self, *others: Routes) -> Routes:
        for other in others:
            for name, command in other.commands.items():
                _add(self.commands, name, command, "command")
            for kind, button in other.buttons.items():
                _add(self.buttons, kind, button, "button action")
            for timer_kind, timer in other.timers.items():
                _add(self.timers, timer_kind, timer, "timer kind")
            for event_type, handler in other.events.items():
                _add(self.events, event_type, handler, "event type")
        return self


K = TypeVar("K")
V = TypeVar("V")


def _add(table: dict[K, V], key: K, value: V, what: str) -> None:
    # Two workflows claiming one name is a programming error, found at import.
    if key in table and table[key] is not value:
        raise ValueError(f"{what} {key!r} is registered twice")
    table[key] = value


# -- answering, shared by handlers ----------------------------------------------------


async def reply(
    work: Work, event: MessageReceived, person: Person, key: str, **fields: object
) -> None:
    await reply_text(work, event, person, work.texts.render(person.language, key, **fields))


async def reply_text(work: Work, event: MessageReceived, person: Person, text: str) -> None:
    await to_chat(work, event.chat, text, priority=Priority.REPLY, person=person)


async def feedback(work: Work, event: ButtonPressed, person: Person, text: str) -> None:
    """A toast where the platform has one; otherwise a short message in the chat."""
    if event.callback_id:
        await answer_press(work, event.chat, event.callback_id, text)
    else:
        await to_chat(work, event.chat, text, priority=Priority.REPLY, person=person)


async def refuse(work: Work, event: ButtonPressed, person: Person) -> None:
    await feedback(work, event, person, work.texts.render(person.language, "not_allowed"))
