"""Placeholder interface until the classifier lands (replaced wholesale)."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from workflows.texts.help_words import is_call_for_help


class Intent(enum.StrEnum):
    URGENT = "urgent"
    CONCERN = "concern"
    FINE = "fine"
    OTHER = "other"


@dataclass(frozen=True)
class HelpWords:
    urgent: tuple[str, ...] = ()
    concern: tuple[str, ...] = ()
    negation: tuple[str, ...] = ()
    fine: tuple[str, ...] = ()


DEFAULT_HELP_WORDS = HelpWords()


def help_words_with(overrides: Mapping[str, Sequence[str]]) -> HelpWords:
    return DEFAULT_HELP_WORDS


def classify(text: str, words: HelpWords = DEFAULT_HELP_WORDS) -> Intent:
    if "头晕" in text or "不太舒服" in text:
        return Intent.CONCERN
    return Intent.URGENT if is_call_for_help(text) else Intent.OTHER
