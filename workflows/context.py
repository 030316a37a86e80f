"""What a workflow step works with: one transaction, the time, config and texts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.config import WorkflowConfig
from core.ports import Tx
from workflows.actions import ActionSigner
from workflows.intent import DEFAULT_HELP_WORDS, HelpWords
from workflows.texts import Texts


@dataclass
class Work:
    tx: Tx
    now: datetime
    config: WorkflowConfig
    texts: Texts
    signer: ActionSigner
    # Platforms that got new outbox rows, so their workers can be woken after commit.
    touched_platforms: set[str] = field(default_factory=set)
    timers_added: bool = False
    # Platforms with a running adapter; empty means "do not filter" (tools, tests).
    platforms: frozenset[str] = frozenset()
    # Platforms that recognise a message sent again (adapters/base.py): a queued row
    # there may be on screen already, so it is edited rather than cancelled.
    resends_deduplicated: frozenset[str] = frozenset()
    # The built-in words plus the workflow file's `help_words`.
    help_words: HelpWords = DEFAULT_HELP_WORDS

    def reachable(self, platform: str) -> bool:
        return not self.platforms or platform in self.platforms
