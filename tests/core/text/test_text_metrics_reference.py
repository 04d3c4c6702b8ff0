"""ROUGE-L, LCS and distinct-n against independent references: a brute-force LCS over all
subsequences, hand cases with unequal lengths, and bounds on random token sequences."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from dcpipelines.core.text.metrics import corpus_rouge_l, distinct_n, lcs_length, rouge_l


def brute_force_lcs(a: list[str], b: list[str]) -> int:
    """The longest subsequence of ``a`` that is also a subsequence of ``b`` (exponential)."""

    def is_subsequence(seq: tuple[str, ...], of: list[str]) -> bool:
        it = iter(of)
        return all(token in it for token in seq)

    for size in range(min(len(a), len(b)), 0, -1):
        if any(is_subsequence(seq, b) for seq in combinations(a, size)):
            return size
    return 0


def reference_rouge_l(a: list[str], b: list[str]) -> float:
    lcs = brute_force_lcs(a, b)
    if lcs == 0:
        return 0.0
    p, r = lcs / len(a), lcs / len(b)
    return 2 * p * r / (p + r)


def test_hand_case_with_unequal_lengths():
    # candidate 6 tokens, reference 3 tokens, LCS 3: P = 1/2, R = 1, F1 = 2/3
    assert rouge_l("yes my lord , i come", "yes my lord") == pytest.approx(2 / 3)
    # and the other way round: P = 1, R = 1/2
    assert rouge_l("yes my lord", "yes my lord , i come") == pytest.approx(2 / 3)
    # repeated tokens must not be matched twice: LCS("a a a", "a") = 1 -> P 1/3, R 1, F1 1/2
    assert lcs_length(["a", "a", "a"], ["a"]) == 1
    assert rouge_l("a a a", "a") == pytest.approx(0.5)
    # F1, not recall: a long candidate containing the reference is penalised
    assert rouge_l("the the the the cat", "the cat") == pytest.approx(2 * 0.4 * 1 / 1.4)


def test_lcs_and_rouge_l_match_brute_force_on_random_sequences():
    rng = np.random.default_rng(0)
    vocabulary = list("abcd")  # a small vocabulary forces repeats
    for _ in range(200):
        a = list(rng.choice(vocabulary, size=int(rng.integers(0, 9))))
        b = list(rng.choice(vocabulary, size=int(rng.integers(0, 9))))
        assert lcs_length(a, b) == brute_force_lcs(a, b), (a, b)
        assert rouge_l(" ".join(a), " ".join(b)) == pytest.approx(reference_rouge_l(a, b))
        assert 0.0 <= rouge_l(" ".join(a), " ".join(b)) <= 1.0


def test_corpus_rouge_l_is_mean_f1_times_100():
    cands, refs = ["yes my lord , i come", "a b"], ["yes my lord", "a b"]
    assert corpus_rouge_l(cands, refs) == pytest.approx(100 * (2 / 3 + 1) / 2)
    assert corpus_rouge_l(refs, refs) == pytest.approx(100.0)


def test_distinct_n_counts_over_all_candidates():
    # unigrams: a b a c | a b -> 6 grams, 3 distinct
    assert distinct_n(["a b a c", "a b"], 1) == pytest.approx(3 / 6)
    # bigrams: (a b)(b a)(a c) | (a b) -> 4 grams, 3 distinct
    assert distinct_n(["a b a c", "a b"], 2) == pytest.approx(3 / 4)
