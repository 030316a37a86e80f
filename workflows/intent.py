"""What a resident's chat message means: urgent, concern, fine or other.

- **urgent**: somebody needs help now — a call ("救命", "help me", 🆘) or an emergency told
  ("我摔倒了起不来", "邻居晕倒了", "I can't breathe").
- **concern**: a symptom or a need that is not plainly an emergency ("有点头晕",
  "药吃完了", "没人管我", "my chest feels tight"). The check-in asks back before alarming.
- **fine**: the resident says they are well ("挺好的", "不疼了", "I'm fine", 👍).
- **other**: anything else ("你好", "今天天气不错", a sticker).

Words are found as words, not substrings: Chinese is segmented with jieba (a private
tokenizer with our words added, so "帮我谢谢小李" is not "帮我…" and "心疼孙子" holds no
pain), English by word. Each word is then read in its clause:

- a negation before it takes it back ("不疼了", "没摔倒", "no need for help"); a negated
  "fine" word is a complaint ("不太舒服", "not well"); a warning to someone else
  ("小心别摔倒") is neither;
- an emergency that was before, nearly happened or might ("昨天摔了一跤", "差点摔倒",
  "怕摔倒") is a concern; so is one asked about without "I" in it ("要叫救护车吗？");
- a later "好多了" / "feeling better" takes back the troubles told before it, unless they
  go on ("腿还疼"); a call for help is never taken back that way.

The most serious clause wins: urgent > concern > fine > other. Everything here is pure;
the only I/O is jieba loading its dictionary the first time Chinese needs segmenting.
"""

from __future__ import annotations

import enum
import functools
import logging
import re
import threading
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workflows.texts import help_words as lists


class Intent(enum.StrEnum):
    URGENT = "urgent"
    CONCERN = "concern"
    FINE = "fine"
    OTHER = "other"


@dataclass(frozen=True)
class HelpWords:
    urgent: tuple[str, ...]
    concern: tuple[str, ...]
    negation: tuple[str, ...]
    fine: tuple[str, ...]


DEFAULT_HELP_WORDS = HelpWords(
    urgent=lists.URGENT, concern=lists.CONCERN, negation=lists.NEGATION, fine=lists.FINE
)

HELP_WORD_LISTS = ("urgent", "concern", "negation", "fine")


def help_words_with(overrides: Mapping[str, Sequence[str]]) -> HelpWords:
    """The built-in words plus an operator's (`help_words:` in the workflow file).

    Operator words extend the built-in lists; they never replace them, so an upgrade
    that teaches the classifier new words reaches every site. Keys: urgent, concern,
    negation, fine. A word in more than one list counts as the most serious one.
    """
    unknown = sorted(set(overrides) - set(HELP_WORD_LISTS))
    if unknown:
        raise ValueError(
            f"help_words: unknown key {', '.join(unknown)} (known: {', '.join(HELP_WORD_LISTS)})"
        )

    def extended(key: str, base: tuple[str, ...]) -> tuple[str, ...]:
        extra = tuple(w.strip() for w in overrides.get(key, ()) if w.strip())
        return base + tuple(w for w in extra if w not in base)

    d = DEFAULT_HELP_WORDS
    return HelpWords(
        urgent=extended("urgent", d.urgent),
        concern=extended("concern", d.concern),
        negation=extended("negation", d.negation),
        fine=extended("fine", d.fine),
    )


def classify(text: str, words: HelpWords = DEFAULT_HELP_WORDS) -> Intent:
    lexicon = _compiled(words)
    signals: list[_Signal] = []
    for clause in _clauses(_normalise(text)):
        signals.extend(_read_clause(clause, lexicon))
        if _contains_any(_unit_texts(clause.text), _MISTAKES):
            # "刚才的求救是按错了": whatever alarm came before was sent by mistake.
            signals = [s for s in signals if s.intent not in (Intent.URGENT, Intent.CONCERN)]
    return _verdict(signals)


# Residents answer a round's prompt with the same few words ("好", "ok", "收到") thousands
# of times: a short text's verdict is kept, per word list, and read once. Longer texts
# are rarely sent twice. The kept verdicts are dropped all at once when there are many.
REMEMBER_UP_TO = 32  # characters
REMEMBERED = 4096  # verdicts per word list


def classify_remembered(text: str, words: HelpWords = DEFAULT_HELP_WORDS) -> Intent:
    """`classify`, answering a short text it has read before from memory."""
    if len(text) > REMEMBER_UP_TO:
        return classify(text, words)
    verdicts = _compiled(words).verdicts
    seen = verdicts.get(text)
    # A verdict holds while the segmenter has the same words: another word list's
    # Chinese words added to it since could cut the text differently.
    if seen is not None and seen[0] == _SEGMENTER.generation:
        return seen[1]
    intent = classify(text, words)
    if len(verdicts) >= REMEMBERED:
        verdicts.clear()
    verdicts[text] = (_SEGMENTER.generation, intent)
    return intent


# --- Normalising -------------------------------------------------------------------------

# Traditional characters that occur in help words, so "頭暈" reads as "头晕".
_TRADITIONAL = str.maketrans(
    "頭暈藥來幫醫護車氣發燒悶壓飯沒無裡個們說還謝給買覺體點腳聽見動厲麼這樣飽餓過嘔瀉傷頸腦絞癢腫難燙門鎖賊關節蓋嗎應實話開間電燈熱壞睏擔憂鬱慮嚇險煙爐洩臉鐘兒顧單緊線狀況題問錯適輕鬆凍虛軟臟腎腸膽脈順暢嚴劇邊",
    "头晕药来帮医护车气发烧闷压饭没无里个们说还谢给买觉体点脚听见动厉么这样饱饿过呕泻伤颈脑绞痒肿难烫门锁贼关节盖吗应实话开间电灯热坏困担忧郁虑吓险烟炉泄脸钟儿顾单紧线状况题问错适轻松冻虚软脏肾肠胆脉顺畅严剧边",
)
# Skin tones, variation selectors and joiners change nothing about what an emoji says.
_EMOJI_MODIFIERS = re.compile("[\U0001f3fb-\U0001f3ff\ufe0e\ufe0f\u200d]")
_CONTRACTIONS = (
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'m\b"), " am"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'d\b"), " would"),
    (re.compile(r"'s\b"), ""),
    (re.compile(r"'"), ""),
)
# The same words typed without an apostrophe.
_BARE = {
    "cant": "can not",
    "cannot": "can not",
    "dont": "do not",
    "doesnt": "does not",
    "didnt": "did not",
    "isnt": "is not",
    "arent": "are not",
    "wasnt": "was not",
    "werent": "were not",
    "havent": "have not",
    "hasnt": "has not",
    "hadnt": "had not",
    "wont": "will not",
    "wouldnt": "would not",
    "couldnt": "could not",
    "shouldnt": "should not",
    "im": "i am",
    "ive": "i have",
    "youre": "you are",
    "thats": "that",
    "its": "it",
    "u": "you",
    "pls": "please",
    "plz": "please",
}
_ASCII_WORD = re.compile(r"[a-z]+")
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_SPACE = re.compile(f"(?<=[{_CJK}])\\s+(?=[{_CJK}])")


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().translate(_TRADITIONAL)
    text = _EMOJI_MODIFIERS.sub("", text).replace("\u2019", "'").replace("\u2018", "'")
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    text = _ASCII_WORD.sub(lambda m: _BARE.get(m.group(), m.group()), text)
    # Between Chinese characters a space is how many people end a clause.
    return _CJK_SPACE.sub(",", text)


# --- Clauses -----------------------------------------------------------------------------

_SENTENCE_END = "。!?\n"
# "不过" joins clauses ("挺好的，不过腿有点疼") but is also inside "喘不过气".
_DELIMITER = re.compile(
    r"([,，。!?;；:：、\n\r…~]+|(?<!\d)\.+|\.+(?!\d)|但是|可是|(?<![喘透忙])不过(?![气来])|就是|只是"
    r"|\b(?:but|however|though|although|except)\b)"
)
# "No I'm fine": a leading no is an answer, not a negation of what follows.
_LEADING_NO = re.compile(r"^\s*(no|nope|nah)\s+(?=(i|we|it|everything|all|thanks|thank)\b)")


@dataclass(frozen=True)
class _Clause:
    text: str
    question: bool
    # A condition opened earlier in the sentence ("如果我摔倒了，…").
    conditional: bool
    # "昨天…" earlier in the sentence.
    past: bool


def _clauses(text: str) -> list[_Clause]:
    parts = _DELIMITER.split(text)
    found: list[_Clause] = []
    conditional = past = False
    for i in range(0, len(parts), 2):
        body = parts[i].strip()
        delimiter = parts[i + 1] if i + 1 < len(parts) else ""
        if body:
            leading = _LEADING_NO.match(body)
            if leading:
                found.append(_Clause(leading.group(1), False, conditional, past))
                body = body[leading.end() :]
            question = "?" in delimiter or body.endswith(("吗", "么", "嘛"))
            found.append(_Clause(body, question, conditional, past))
            units = _unit_texts(body)
            conditional = conditional or _contains_any(units, _CONDITIONS)
            if _contains_any(units, _PRESENT):
                past = False
            elif _contains_any(units, _PAST):
                past = True
        if any(c in _SENTENCE_END for c in delimiter):
            conditional = past = False
    return found


# --- Units and the lexicon ---------------------------------------------------------------

# A unit is one Chinese character, one English word, one number or one other symbol.
_UNIT = re.compile(f"[a-z]+|[0-9]+(?:\\.[0-9]+)?|[{_CJK}]|\\S")
_IS_CJK = re.compile(f"[{_CJK}]")

Units = tuple[str, ...]


def _unit_texts(text: str) -> Units:
    return tuple(m.group() for m in _UNIT.finditer(text))


def _key(word: str) -> Units:
    return _unit_texts(_normalise(word))


def _keys(words: Iterable[str]) -> frozenset[Units]:
    return frozenset(k for k in map(_key, words) if k)


@dataclass(frozen=True)
class _Phrases:
    """A set of phrases (as units) that knows which lengths to try."""

    keys: frozenset[Units]
    lengths: tuple[int, ...]

    def __contains__(self, key: object) -> bool:
        return key in self.keys


def _phrases(words: Iterable[str]) -> _Phrases:
    keys = _keys(words)
    return _Phrases(keys, tuple(sorted({len(k) for k in keys}, reverse=True)))


def _contains_any(units: Units, phrases: _Phrases) -> bool:
    return any(
        units[i : i + n] in phrases.keys for n in phrases.lengths for i in range(len(units) - n + 1)
    )


def _ending_at(units: Units, at: int, phrases: _Phrases) -> int:
    """The length of the longest phrase that ends just before `at`, or 0."""
    for n in phrases.lengths:
        if n <= at and units[at - n : at] in phrases.keys:
            return n
    return 0


_PAST = _phrases(lists.PAST)
_PRESENT = _phrases(lists.PRESENT)
_HYPOTHETICAL = _phrases(lists.HYPOTHETICAL)
_CONDITIONS = _phrases(lists.CONDITIONS)
_PERSISTING = _phrases(lists.PERSISTING)
_THANKS = _phrases(lists.THANKS)
_FILLERS = _phrases(lists.FILLERS)
_WARNINGS = _phrases(lists.WARNINGS)
_OTHERWISE = _phrases(lists.OTHERWISE)
_MISTAKES = _phrases(lists.MISTAKES)
_GLUE_BEFORE = frozenset(lists.GLUE_BEFORE)
_GLUE_AFTER = frozenset(lists.GLUE_AFTER)
_BODY_PARTS = frozenset(lists.BODY_PARTS)
_CALL_FOLLOWERS = frozenset(lists.CALL_FOLLOWERS)
_FIRST_PERSON = frozenset({"我", "咱", "i", "me", "my", "we", "us", "our"})
_STILL_OVER = frozenset({"了", "anymore"})
_NO_LONGER = (("no", "longer"), ("any", "more"), ("已", "经"), ("已",))


class _Kind(enum.Enum):
    URGENT = 3
    CONCERN = 2
    FINE = 1
    NEUTRAL = 0


@dataclass(frozen=True)
class _Entry:
    kind: _Kind
    call: bool = False
    ask: bool = False
    state: bool = False
    recovery: bool = False
    cjk: bool = False
    # A single Chinese character that counts only at the end or before a particle.
    final: bool = False


@dataclass
class _Lexicon:
    entries: dict[Units, _Entry]
    longest: int
    negations: _Phrases
    # Chinese words for the segmenter, added the first time it is needed.
    cjk_words: tuple[str, ...]
    vocabulary: frozenset[str]
    segmenter_ready: bool = field(default=False)
    # Short texts already read with these words: text → (segmenter generation, verdict).
    verdicts: dict[str, tuple[int, Intent]] = field(default_factory=dict)


@functools.lru_cache(maxsize=16)
def _compiled(words: HelpWords) -> _Lexicon:
    calls, asks = _keys(lists.CALLS), _keys(lists.ASKS)
    states, recovery = _keys(lists.FINE_STATES), _keys(lists.RECOVERY)
    entries: dict[Units, _Entry] = {}
    cjk_words: list[str] = []
    # In rising seriousness, so a word in two lists counts as the more serious one.
    for kind, group in (
        (_Kind.NEUTRAL, lists.NEUTRAL),
        (_Kind.FINE, words.fine),
        (_Kind.CONCERN, words.concern),
        (_Kind.URGENT, words.urgent),
    ):
        for word in group:
            key = _key(word)
            if not key:
                continue
            cjk = all(_IS_CJK.fullmatch(u) for u in key)
            entries[key] = _Entry(
                kind=kind,
                call=kind is _Kind.URGENT and key in calls,
                ask=key in asks,
                # "not feeling good" is as much a complaint as "not good".
                state=kind is _Kind.FINE and (key in states or any((u,) in states for u in key)),
                recovery=kind is _Kind.FINE and key in recovery,
                cjk=cjk,
                final=cjk and len(key) == 1 and kind is _Kind.FINE,
            )
            if cjk and len(key) > 1 and kind is not _Kind.NEUTRAL:
                cjk_words.append("".join(key))
    negations = _phrases(words.negation)
    vocabulary = frozenset(
        u
        for keys in (
            entries,
            *(p.keys for p in (negations, _FILLERS, _PAST, _HYPOTHETICAL, _PERSISTING, _THANKS)),
        )
        for key in keys
        for u in key
        if u.isascii() and u.isalpha()
    )
    return _Lexicon(
        entries=entries,
        longest=max(len(k) for k in entries),
        negations=negations,
        cjk_words=tuple(dict.fromkeys(cjk_words)),
        vocabulary=vocabulary,
    )


_REPEATS = re.compile(r"(.)\1+")


def _unelongated(unit: str, vocabulary: frozenset[str]) -> str:
    """ "helppp" → "help", "goood" → "good", "okkk" → "ok"; other words unchanged."""
    if not unit.isascii() or not unit.isalpha() or unit in vocabulary:
        return unit
    for candidate in (_REPEATS.sub(r"\1\1", unit), _REPEATS.sub(r"\1", unit)):
        if candidate in vocabulary:
            return candidate
    return unit


# --- Segmenting Chinese ------------------------------------------------------------------


class _Segmenter:
    """One private jieba tokenizer for the process, loaded on first use.

    Private so nothing global in jieba is touched; shared because its dictionary costs
    tens of megabytes. Every lexicon's Chinese words are added to it, so our phrases come
    out whole ("喘不上气", "没吃东西") and the words jieba knows ("心疼", "你好") keep
    ours from being found inside them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._added: set[str] = set()
        # Counts the times words were added (see classify_remembered).
        self.generation = 0

    def tokens(self, text: str, lexicon: _Lexicon) -> list[tuple[int, int]]:
        """Where each of jieba's words starts and ends in `text`."""
        tokenizer = self._ready(lexicon)
        spans = []
        at = 0
        for token in tokenizer.cut(text, HMM=False):
            spans.append((at, at + len(token)))
            at += len(token)
        return spans

    def _ready(self, lexicon: _Lexicon) -> Any:
        if self._tokenizer is not None and lexicon.segmenter_ready:
            return self._tokenizer
        with self._lock:
            if self._tokenizer is None:
                self._tokenizer = _load_jieba()
            for word in lexicon.cjk_words:
                if word not in self._added:
                    self._tokenizer.add_word(word)
                    self._added.add(word)
                    self.generation += 1
            lexicon.segmenter_ready = True
            return self._tokenizer


def _load_jieba() -> Any:
    # jieba announces its dictionary loading on its own stderr handler, and imports
    # pkg_resources (deprecated in recent setuptools): quiet both, for jieba alone.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", UserWarning)
        import jieba

        logging.getLogger("jieba").setLevel(logging.WARNING)
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
    return tokenizer


_SEGMENTER = _Segmenter()


# --- Reading a clause --------------------------------------------------------------------


@dataclass(frozen=True)
class _Signal:
    intent: Intent
    call: bool = False
    persisting: bool = False
    recovery: bool = False
    # Told with an emergency's words: "好了" after it leaves a concern, not nothing
    # ("昨天摔了一跤，现在没事了" is still worth a visit).
    grave: bool = False


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    entry: _Entry


def _alternatives(words: Iterable[str]) -> str:
    return "|".join(sorted(map(re.escape, words), key=len, reverse=True))


# "头有点沉", "腰又疼了": a body part and an ache with a degree word between them, which
# neither word list sees as one word. Negations are not glue here, so "头也不疼" is not.
_BODY_ACHE = re.compile(
    f"(?:{_alternatives(lists.BODY_PARTS)})"
    f"((?:{_alternatives(g for g in lists.GLUE_BEFORE if g not in lists.NEGATION)}){{1,3}})"
    f"(?:{_alternatives((*lists.ACHES, '难受', '不舒服'))})"
)
_BLOOD_PRESSURE = re.compile(r"(?:血压|高压|收缩压|\bbp\b|blood pressure)\D{0,6}?(\d{2,3})")
_TEMPERATURE = re.compile(r"(?:体温|发烧|发热|烧到|temperature|fever|\btemp\b)\D{0,6}?(\d{2,3})")
_JUST_A_NUMBER = re.compile(r"(?:120|110|119|911|999|112)+")


def _read_clause(clause: _Clause, lexicon: _Lexicon) -> list[_Signal]:
    matches = list(_UNIT.finditer(clause.text))
    units = tuple(_unelongated(m.group(), lexicon.vocabulary) for m in matches)
    spans = [(m.start(), m.end()) for m in matches]
    signals = [
        s
        for hit in _hits(clause.text, units, spans, lexicon)
        if (s := _read(hit, units, clause, lexicon))
    ]
    signals.extend(_numbers(clause.text))
    for shape in _BODY_ACHE.finditer(clause.text):
        glue = _unit_texts(shape.group(1))
        signals.append(_Signal(Intent.CONCERN, persisting=_contains_any(glue, _PERSISTING)))
    return signals


def _hits(text: str, units: Units, spans: list[tuple[int, int]], lexicon: _Lexicon) -> list[_Hit]:
    candidates: list[_Hit] = []
    tokens: list[tuple[int, int]] | None = None
    n = len(units)
    for i in range(n):
        for length in range(min(lexicon.longest, n - i), 0, -1):
            entry = lexicon.entries.get(units[i : i + length])
            if entry is None:
                continue
            end = i + length
            if (
                entry.final
                and end < n
                and _IS_CJK.fullmatch(units[end])
                and units[end] not in lists.PARTICLES
                and _negation(units, i, lexicon) is None
            ):
                # "好冷", "好几天": a degree word, not "fine"; but "睡眠不好老是醒" is.
                continue
            if entry.cjk and entry.kind is not _Kind.NEUTRAL:
                if tokens is None:
                    tokens = _SEGMENTER.tokens(text, lexicon)
                if not _a_word_in(text, spans[i][0], spans[end - 1][1], tokens):
                    continue
            candidates.append(_Hit(i, end, entry))
    # The longest word wins where words overlap ("不舒服" over "舒服"), and of two as
    # long the one that is not a help word ("fell asleep" over "i fell").
    candidates.sort(key=lambda h: (h.start - h.end, h.entry.kind is not _Kind.NEUTRAL, h.start))
    taken: list[_Hit] = []
    for hit in candidates:
        if all(hit.end <= t.start or hit.start >= t.end for t in taken):
            taken.append(hit)
    taken.sort(key=lambda h: h.start)
    return taken


def _a_word_in(text: str, start: int, end: int, tokens: list[tuple[int, int]]) -> bool:
    """Whether text[start:end] is a word of the segmented text, or one with only glue
    ("有点", "了", "得慌") joined to it in jieba's token."""
    first = next(t for t in tokens if t[0] <= start < t[1])
    last = next(t for t in tokens if t[0] < end <= t[1])
    before, after = text[first[0] : start], text[end : last[1]]
    if not after and text[start:end] in lists.ACHES_AT_END:
        return True
    return (not before or before in _GLUE_BEFORE or before in _BODY_PARTS) and (
        not after or after in _GLUE_AFTER or set(after) == {text[end - 1]}
    )


def _read(hit: _Hit, units: Units, clause: _Clause, lexicon: _Lexicon) -> _Signal | None:
    entry = hit.entry
    negation = _negation(units, hit.start, lexicon)
    before = units[: hit.start]
    match entry.kind:
        case _Kind.NEUTRAL:
            return None
        case _Kind.URGENT | _Kind.CONCERN if negation is not None:
            if negation == "warning":
                return None
            return _Signal(Intent.FINE, recovery=_no_longer(units, hit))
        case _Kind.URGENT:
            if entry.call:
                if entry.ask and (_thanked(units) or _asked_of_someone_else(units, clause)):
                    return None
                if entry.ask and _a_request(units, hit):
                    return _Signal(Intent.CONCERN)
                return _Signal(Intent.URGENT, call=True)
            softened = (
                clause.conditional
                or _contains_any(before, _HYPOTHETICAL)
                or _past(units, hit.start, clause)
                or _asked_of_someone_else(units, clause)
                or _thanked(units)
            )
            return _Signal(
                Intent.CONCERN if softened else Intent.URGENT,
                persisting=_persisting(units, hit.start),
                grave=True,
            )
        case _Kind.CONCERN:
            if entry.ask and (_thanked(units) or _asked_of_someone_else(units, clause)):
                return None
            return _Signal(Intent.CONCERN, persisting=_persisting(units, hit.start))
        case _Kind.FINE:
            if clause.question:
                return None
            if negation is not None:
                return _Signal(Intent.CONCERN) if entry.state and negation != "warning" else None
            otherwise = _contains_any(units, _OTHERWISE)
            return _Signal(Intent.FINE, recovery=entry.recovery and not otherwise)
    return None


def _negation(units: Units, start: int, lexicon: _Lexicon) -> str | None:
    """ "state" or "warning" when a negation stands before `start` (fillers allowed
    between), else None."""
    at = start
    for _ in range(5):
        found = _ending_at(units, at, lexicon.negations)
        if found:
            key = units[at - found : at]
            if key in _WARNINGS or _imperative(units, at - found):
                return "warning"
            return "state"
        filler = _ending_at(units, at, _FILLERS)
        if not filler:
            return None
        at -= filler
    return None


def _imperative(units: Units, at: int) -> bool:
    # "Don't fall on the ice": an English clause that opens with "do not".
    return at == 1 and units[:1] == ("do",)


def _no_longer(units: Units, hit: _Hit) -> bool:
    after = units[hit.end : hit.end + 2]
    if any(u in _STILL_OVER for u in after) or units[hit.end : hit.end + 2] == ("any", "more"):
        return True
    before = units[max(0, hit.start - 4) : hit.start]
    return any(
        before[i : i + len(p)] == p for p in _NO_LONGER for i in range(len(before) - len(p) + 1)
    )


def _a_request(units: Units, hit: _Hit) -> bool:
    """ "help me change a light bulb": an English call followed by what is wanted."""
    following = units[hit.end : hit.end + 1]
    return (
        bool(following)
        and following[0].isalpha()
        and following[0].isascii()
        and (following[0] not in _CALL_FOLLOWERS)
    )


def _persisting(units: Units, start: int) -> bool:
    return _contains_any(units[max(0, start - 4) : start], _PERSISTING)


def _past(units: Units, start: int, clause: _Clause) -> bool:
    """Told as before: "昨天摔了一跤", "the ambulance came yesterday" — unless "now"
    comes before the word ("昨天摔的，现在还起不来")."""
    if _contains_any(units[:start], _PRESENT):
        return False
    return clause.past or _contains_any(units, _PAST)


def _thanked(units: Units) -> bool:
    return _contains_any(units, _THANKS)


def _asked_of_someone_else(units: Units, clause: _Clause) -> bool:
    return clause.question and not any(u in _FIRST_PERSON for u in units)


def _numbers(text: str) -> list[_Signal]:
    """Readings people send as they are: "血压一百六十多" worries, "血压120/80" reassures."""
    signals = []
    if _JUST_A_NUMBER.fullmatch(text):
        signals.append(_Signal(Intent.URGENT, call=True))
    text = _CHINESE_NUMBER.sub(_arabic, text)
    pressure = _BLOOD_PRESSURE.search(text)
    if pressure:
        high = int(pressure.group(1)) >= 160
        signals.append(_Signal(Intent.CONCERN if high else Intent.FINE))
    temperature = _TEMPERATURE.search(text)
    if temperature and 35 <= int(temperature.group(1)) <= 43:
        fever = int(temperature.group(1)) >= 38 or temperature.group(0).startswith("发")
        signals.append(_Signal(Intent.CONCERN if fever else Intent.FINE))
    return signals


_CHINESE_NUMBER = re.compile("[一二两三四五六七八九十百]*[十百][一二两三四五六七八九]?")
_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2}


def _arabic(match: re.Match[str]) -> str:
    """ "一百六十" → "160", "三十八" → "38" (enough for readings; not a general parser)."""
    total, digit = 0, 0
    for c in match.group():
        if c == "百":
            total, digit = total + (digit or 1) * 100, 0
        elif c == "十":
            total, digit = total + (digit or 1) * 10, 0
        else:
            digit = _DIGITS[c]
    return str(total + digit)


# --- The message as a whole --------------------------------------------------------------


def _verdict(signals: list[_Signal]) -> Intent:
    kept: list[Intent] = []
    for i, signal in enumerate(signals):
        later_recovery = any(s.recovery for s in signals[i + 1 :])
        if signal.intent in (Intent.URGENT, Intent.CONCERN) and later_recovery:
            if signal.call or signal.persisting:
                kept.append(signal.intent)
            elif signal.grave:
                kept.append(Intent.CONCERN)
            continue
        kept.append(signal.intent)
    for intent in (Intent.URGENT, Intent.CONCERN, Intent.FINE):
        if intent in kept:
            return intent
    return Intent.OTHER
