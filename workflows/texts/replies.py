"""Short answers to "shall someone come?" typed instead of tapped."""

from __future__ import annotations

import re

_YES = frozenset(
    {
        "是",
        "是的",
        "要",
        "要的",
        "需要",
        "好",
        "好的",
        "来吧",
        "快来",
        "请来",
        "对",
        "yes",
        "y",
        "yes please",
        "please",
        "please come",
        "come",
        "ok come",
    }
)
_NO = frozenset(
    {
        "不",
        "不用",
        "不要",
        "不需要",
        "没事",
        "没事了",
        "没关系",
        "不用了",
        "不用来",
        "好多了",
        "no",
        "n",
        "no thanks",
        "no thank you",
        "not needed",
        "i'm ok",
        "im ok",
        "i am ok",
    }
)
_TRIM = re.compile(r"[\s。！!，,.?？~～]+")


def _norm(text: str) -> str:
    return _TRIM.sub(" ", text.strip().lower()).strip()


def means_yes(text: str) -> bool:
    return _norm(text) in _YES


def means_no(text: str) -> bool:
    return _norm(text) in _NO
