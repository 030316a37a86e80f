"""Words that turn any message into a call for help, in Chinese and English."""

from __future__ import annotations

import re

ZH = (
    "救命",
    "帮帮我",
    "帮我",
    "不舒服",
    "摔倒",
    "摔了",
    "跌倒",
    "难受",
    "头晕",
    "胸口痛",
    "喘不过气",
    "急救",
    "快来",
    "出事",
    "起不来",
    "求救",
    "疼",
)
EN = (
    "help",
    "fell",
    "fallen",
    "fall down",
    "emergency",
    "hurt",
    "sick",
    "ambulance",
    "can't breathe",
    "cannot breathe",
    "pain",
    "dizzy",
    "sos",
)

_EN_PATTERN = re.compile(r"\b(" + "|".join(re.escape(w) for w in EN) + r")\b", re.IGNORECASE)


def is_call_for_help(text: str) -> bool:
    if any(word in text for word in ZH):
        return True
    return bool(_EN_PATTERN.search(text))


# What people call each kind of need, so `/need 药 ...` works as well as `/need medicine`.
NEED_KIND_WORDS: dict[str, tuple[str, ...]] = {
    "medicine": ("medicine", "药", "药品", "买药"),
    "groceries": ("groceries", "买菜", "菜", "生活用品", "物资", "supplies"),
    "personal_care": ("personal_care", "care", "洗澡", "照料", "生活照料", "bath"),
    "repair": ("repair", "维修", "修"),
    "companionship": ("companionship", "陪伴", "聊天", "company"),
    "medical": ("medical", "看病", "就医", "医生", "doctor"),
    "other": ("other", "其他"),
}


def need_kind(word: str) -> str | None:
    word = word.strip().lower()
    for kind, words in NEED_KIND_WORDS.items():
        if word in words:
            return kind
    return None
