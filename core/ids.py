"""Named ids, so a person id is never passed where an alert id is expected."""

from __future__ import annotations

from typing import NewType

PersonId = NewType("PersonId", int)
CheckinId = NewType("CheckinId", int)
AlertId = NewType("AlertId", int)
OutboxId = NewType("OutboxId", int)

# Where a message goes or comes from, written "<platform>:<chat>", for example
# "telegram:123456", "matrix:!abc:example.org" or "local:7".
ChatRef = NewType("ChatRef", str)


def chat_ref(platform: str, chat: str | int) -> ChatRef:
    return ChatRef(f"{platform}:{chat}")


def split_chat_ref(ref: ChatRef | str) -> tuple[str, str]:
    platform, sep, chat = ref.partition(":")
    if not sep or not platform or not chat:
        raise ValueError(f"not a chat reference (platform:chat): {ref!r}")
    return platform, chat
