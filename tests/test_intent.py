"""What a resident's message means (workflows/intent.py), on examples and on a corpus."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from workflows.intent import (
    DEFAULT_HELP_WORDS,
    REMEMBER_UP_TO,
    Intent,
    classify,
    classify_remembered,
    help_words_with,
)
from workflows.texts.help_words import is_call_for_help

CORPUS = Path(__file__).with_name("intent_corpus.tsv")

URGENT, CONCERN, FINE, OTHER = Intent.URGENT, Intent.CONCERN, Intent.FINE, Intent.OTHER


def read_corpus() -> list[tuple[Intent, str]]:
    with CORPUS.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert rows[0] == ["label", "text"], f"{CORPUS.name}:1: header must be label<TAB>text"
    corpus = []
    for line, row in enumerate(rows[1:], start=2):
        assert len(row) == 2 and row[1].strip(), f"{CORPUS.name}:{line}: want label<TAB>text"
        corpus.append((Intent(row[0]), row[1]))
    return corpus


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("我很好，腿也不疼了", FINE),
        ("不疼了", FINE),
        ("没有摔倒，放心吧", FINE),
        ("I'm fine, no need for help", FINE),
        ("All good, my back doesn't hurt anymore", FINE),
    ],
)
def test_it_reads_the_old_false_alarms_as_fine(text: str, want: Intent) -> None:
    assert classify(text) is want


def test_it_does_not_take_thanks_through_a_neighbour_for_a_call() -> None:
    assert classify("帮我谢谢小李，菜收到了") not in (URGENT, CONCERN)


@pytest.mark.parametrize("text", ["救救我", "🆘", "救命", "快来人", "help me", "I fell"])
def test_it_hears_calls_the_substring_list_missed(text: str) -> None:
    assert classify(text) is URGENT


@pytest.mark.parametrize(
    "text",
    [
        "今天不太舒服",
        "走不动路了",
        "好几天没吃东西了",
        "my chest feels tight",
        "药吃完了",
        "没人管我",
        "没力气",
        "老毛病又犯了",
        "腰疼得厉害",
        "一个人在家有点害怕",
    ],
)
def test_it_hears_worries_the_substring_list_missed(text: str) -> None:
    assert classify(text) is CONCERN


@pytest.mark.parametrize(
    "text",
    [
        "没摔倒",
        "不晕了",
        "头晕已经好了",
        "no need for help",
        "my knee doesn't hurt anymore",
        "not dizzy",
        "no longer dizzy",
        "I don't need help",
        "I'm not sick",
        "没有不舒服",
        "一点都不疼",
    ],
)
def test_it_understands_negation_and_no_longer(text: str) -> None:
    assert classify(text) is FINE


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("我摔倒了起不来，没人在家", URGENT),
        ("不行了，快来人", URGENT),
        ("我没事，就是有点头晕", CONCERN),
        ("头不晕了，但腿还疼", CONCERN),
        ("腿还疼，头不晕了", CONCERN),
    ],
)
def test_a_negation_nearby_does_not_cancel_a_real_complaint(text: str, want: Intent) -> None:
    assert classify(text) is want


@pytest.mark.parametrize(
    "text",
    [
        "The helpful young man came by",
        "I helped my neighbour carry groceries",
        "心疼孙子上学辛苦",
        "不好意思，刚才没看到",
        "I fell asleep watching TV",
        "刚才摔了一个碗",
        "今天好冷",
    ],
)
def test_words_inside_other_words_are_not_help_words(text: str) -> None:
    assert classify(text) not in (URGENT, CONCERN)


@pytest.mark.parametrize(
    "text", ["要帮忙吗？", "你需要帮忙吗?", "Do you need any help?", "你还好吗？"]
)
def test_a_question_back_is_not_a_call(text: str) -> None:
    assert classify(text) in (OTHER, FINE)


@pytest.mark.parametrize("text", ["邻居摔倒了", "老伴叫不醒了", "my husband collapsed"])
def test_someone_else_in_trouble_is_urgent(text: str) -> None:
    assert classify(text) is URGENT


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("昨天摔了一跤，现在没事了", CONCERN),
        ("差点摔倒", CONCERN),
        ("怕摔倒，不敢出门", CONCERN),
        ("I almost fell in the shower", CONCERN),
        ("小心别摔倒啊", OTHER),
        ("Don't fall on the ice, kids!", OTHER),
    ],
)
def test_a_fall_that_was_nearly_or_might_is_a_concern(text: str, want: Intent) -> None:
    assert classify(text) is want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("HELP", URGENT),
        ("sos", URGENT),
        ("Sos", URGENT),
        ("help!!!", URGENT),
        ("helppppp", URGENT),
        ("ＨＥＬＰ", URGENT),
        ("i cant get up", URGENT),
        ("im fine", FINE),
        ("goood", FINE),
        ("我頭暈", CONCERN),
        ("救命啊 help", URGENT),
        ("我今天 feel dizzy", CONCERN),
        ("👍🏻", FINE),
        ("妈妈摔倒了 我在外地 麻烦去看看", URGENT),
    ],
)
def test_case_width_repeats_script_and_mixed_language_do_not_matter(
    text: str, want: Intent
) -> None:
    assert classify(text) is want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("血压120/80", FINE),
        ("血压一百六十多，头有点胀", CONCERN),
        ("量了体温三十八度五", CONCERN),
        ("今天28度", OTHER),
        ("120", URGENT),
    ],
)
def test_readings_are_read_as_numbers(text: str, want: Intent) -> None:
    assert classify(text) is want


def test_a_long_message_is_as_serious_as_its_most_serious_clause() -> None:
    text = "早上去买菜的时候在小区门口摔了一跤，现在腿疼得站不起来，家里就我一个人"
    assert classify(text) is URGENT
    text = "小张你好，昨天你送来的菜很新鲜，谢谢你。我身体挺好的，你们别担心。"
    assert classify(text) is FINE


def test_operator_words_extend_the_built_in_lists() -> None:
    words = help_words_with({"urgent": ["老地方见"], "concern": ["心里发毛"], "fine": ["杠杠滴"]})
    assert classify("老地方见", words) is URGENT
    assert classify("心里发毛", words) is CONCERN
    assert classify("身体杠杠滴", words) is FINE
    # The built-in words are still there, and the defaults are untouched.
    assert classify("救命", words) is URGENT
    assert classify("老地方见") is OTHER
    assert classify("身体杠杠滴") is OTHER
    assert words.urgent[: len(DEFAULT_HELP_WORDS.urgent)] == DEFAULT_HELP_WORDS.urgent


def test_operator_negations_take_words_back() -> None:
    words = help_words_with({"negation": ["冇得"]})
    assert classify("冇得头晕", DEFAULT_HELP_WORDS) is CONCERN
    assert classify("冇得头晕", words) is FINE


def test_unknown_help_word_lists_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="urgnet"):
        help_words_with({"urgnet": ["x"]})


def test_the_old_substring_test_now_means_urgent() -> None:
    assert is_call_for_help("我摔倒了")
    assert not is_call_for_help("不疼了")


def test_it_leaves_jiebas_global_tokenizer_alone() -> None:
    import jieba

    classify("喘不上气")
    assert not jieba.dt.initialized


def test_a_remembered_verdict_is_the_verdict_for_every_text_of_the_corpus() -> None:
    for _ in range(2):  # read, then remembered
        for _, text in read_corpus():
            assert classify_remembered(text) is classify(text), text


def test_remembered_verdicts_are_kept_per_word_list() -> None:
    words = help_words_with({"urgent": ["老地方见呀"], "fine": ["杠杠哒"]})
    assert classify_remembered("老地方见呀") is OTHER
    assert classify_remembered("老地方见呀", words) is URGENT
    assert classify_remembered("身体杠杠哒") is OTHER
    assert classify_remembered("身体杠杠哒", words) is FINE
    assert classify_remembered("老地方见呀") is OTHER


def test_a_long_text_is_read_each_time() -> None:
    long = "今天早上起来觉得头有点晕，" * 3
    assert len(long) > REMEMBER_UP_TO
    assert classify_remembered(long) is classify(long) is CONCERN


def test_the_corpus_meets_its_targets() -> None:
    outcome: dict[Intent, Counter[Intent]] = {i: Counter() for i in Intent}
    wrong: list[str] = []
    for label, text in read_corpus():
        got = classify(text)
        outcome[label][got] += 1
        if got is not label:
            wrong.append(f"{label} → {got}: {text}")
    table = "; ".join(
        f"{label}: {counts[label]}/{counts.total()} ({dict(counts)})"
        for label, counts in outcome.items()
    )
    report = f"{table}\n" + "\n".join(wrong)
    assert sum(c.total() for c in outcome.values()) >= 240, report
    fine = outcome[FINE]
    assert fine[URGENT] + fine[CONCERN] == 0, f"false alarms on fine messages: {report}"
    urgent = outcome[URGENT]
    assert urgent[URGENT] == urgent.total(), f"urgent messages missed: {report}"
    concern = outcome[CONCERN]
    heard = concern[CONCERN] + concern[URGENT]
    assert heard >= 0.9 * concern.total(), f"concern heard {heard}/{concern.total()}: {report}"
