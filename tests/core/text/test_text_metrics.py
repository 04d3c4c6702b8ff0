"""ROUGE-L, BLEU, distinct-n and the questioner-awareness figures on hand-checked examples."""

import pytest

from dcpipelines.core.text.metrics import (
    corpus_bleu,
    corpus_rouge_l,
    distinct_n,
    lcs_length,
    metric_tokens,
    questioner_awareness,
    rouge_l,
)


def test_tokens_split_chinese_per_character():
    assert metric_tokens("Hello, World! 你好吗") == ["hello", ",", "world", "!", "你", "好", "吗"]


def test_lcs_and_rouge_l_by_hand():
    assert lcs_length(["a", "b", "c", "d"], ["a", "c", "d", "e"]) == 3
    # LCS 3, precision 3/4, recall 3/4 -> F1 0.75
    assert rouge_l("a b c d", "a c d e") == pytest.approx(0.75)
    assert rouge_l("x y", "a b") == 0.0
    assert rouge_l("", "a b") == 0.0
    assert corpus_rouge_l(["a b c d", "x"], ["a c d e", "x"]) == pytest.approx(87.5)


def test_bleu_is_100_for_identical_and_low_for_unrelated():
    refs = ["the cat sat on the mat today", "我 们 今 天 去 公 园 吧"]
    assert corpus_bleu(refs, refs) == pytest.approx(100.0)
    assert corpus_bleu(["dogs bark loudly at night", "他 们 明 年"], refs) < 5


def test_distinct_n():
    assert distinct_n(["a a a", "a b"], 1) == pytest.approx(2 / 5)
    assert distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)
    assert distinct_n([""], 2) == 0.0


def test_awareness_spread_and_own_gain():
    same = [{"A": "yes my lord", "B": "yes my lord"}]
    spread, gain = questioner_awareness(same, ["yes my lord"], ["A"])
    assert spread == 0.0 and gain == 0.0
    tailored = [{"A": "yes my lord", "B": "go away knave"}]
    spread, gain = questioner_awareness(tailored, ["yes my lord"], ["A"])
    assert spread == pytest.approx(1.0) and gain == pytest.approx(100.0)
