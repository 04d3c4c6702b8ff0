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


# ---- the paper's way ----
def test_paper_rouge_hand_case_and_the_authors_tokens():
    from dcpipelines.core.text.metrics import paper_rouge

    scores = paper_rouge(["yes my lord , i come"], ["yes my lord"], "en")
    assert scores["rouge_l"][0] == pytest.approx(100 * 2 / 3, abs=1e-4)  # P 1/2, R 1
    assert scores["rouge_1"][0] == pytest.approx(100 * 2 / 3, abs=1e-4)
    assert scores["rouge_2"][0] == pytest.approx(100 * 2 * (2 / 5) / (1 + 2 / 5), abs=1e-4)
    # English: whitespace tokens as written, so "lord," is not "lord"
    assert paper_rouge(["my lord, i come"], ["my lord i come"], "en")["rouge_1"][0] == pytest.approx(75, abs=1e-4)
    # Chinese: one token per character
    zh = paper_rouge(["我来了"], ["你来了"], "zh")
    assert zh["rouge_l"][0] == pytest.approx(100 * 2 / 3, abs=1e-4)
    # an empty reply scores 0 and still counts
    assert paper_rouge(["", "yes my lord"], ["yes my lord", "yes my lord"], "en")["rouge_l"] == [
        0.0, pytest.approx(100.0, abs=1e-4)]


def test_paper_rouge_l_agrees_with_a_brute_force_lcs_and_stays_in_bounds():
    """On texts without repeated tokens the package's ROUGE-L is the LCS F1; with repeats it
    is not (it scores "a b a" against "a a b" as 1.0), which is what the authors measured."""
    import itertools
    import random

    from dcpipelines.core.text.metrics import paper_rouge

    def brute_lcs(a, b):
        for size in range(min(len(a), len(b)), 0, -1):
            for combo in itertools.combinations(a, size):
                it = iter(b)
                if all(tok in it for tok in combo):
                    return size
        return 0

    rng = random.Random(0)
    for _ in range(30):
        a = rng.sample("abcdefgh", rng.randint(1, 7))
        b = rng.sample("abcdefgh", rng.randint(1, 7))
        lcs = brute_lcs(a, b)
        expected = 0.0 if lcs == 0 else 100 * 2 * lcs / (len(a) + len(b))
        got = paper_rouge([" ".join(a)], [" ".join(b)], "en")["rouge_l"][0]
        assert 0.0 <= got <= 100.0 + 1e-6
        assert got == pytest.approx(expected, abs=1e-3)
    for _ in range(30):  # with repeats: still within bounds
        a = [rng.choice("ab") for _ in range(rng.randint(1, 7))]
        b = [rng.choice("ab") for _ in range(rng.randint(1, 7))]
        assert 0.0 <= paper_rouge([" ".join(a)], [" ".join(b)], "en")["rouge_l"][0] <= 100.0 + 1e-6
    assert paper_rouge(["a b a"], ["a a b"], "en")["rouge_l"][0] == pytest.approx(100.0, abs=1e-4)


def test_sacrebleu_uses_the_language_tokenizer():
    from dcpipelines.core.text.metrics import sacre_bleu

    assert sacre_bleu(["我来了吗"], ["我来了吗"], "zh") == pytest.approx(100.0)
    # without the zh tokenizer an unsegmented Chinese sentence is one token: no 4-gram at all
    assert sacre_bleu(["我来了吗"], ["你来了吗"], "zh") > 0.0
    assert sacre_bleu(["我来了吗"], ["你来了吗"], "en") == 0.0


def test_repeat_rate_counts_replies_with_a_repeated_ngram():
    from dcpipelines.core.text.metrics import has_repeated_ngram, repeat_rate

    assert has_repeated_ngram(list("abcabc"), 3) and not has_repeated_ngram(list("abcab"), 3)
    assert repeat_rate(["the king the king the king", "my lord i come", "go go"]) == pytest.approx(1 / 3)
    assert repeat_rate([]) == 0.0
