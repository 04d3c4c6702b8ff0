"""Generation metrics: ROUGE-L (implemented here), BLEU (sacrebleu), distinct-n, and how much
responses depend on who asks."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"[\u4e00-\u9fff]|[^\W_]+|[^\w\s]", re.UNICODE)


def metric_tokens(text: str) -> list[str]:
    """Lower-cased words and punctuation; every CJK character is its own token."""
    return _WORD.findall(text.lower())


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (dynamic programming, one row at a time)."""
    if not a or not b:
        return 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 (beta = 1) between two texts, in [0, 1]."""
    c, r = metric_tokens(candidate), metric_tokens(reference)
    lcs = lcs_length(c, r)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(c), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


def corpus_rouge_l(candidates: Sequence[str], references: Sequence[str]) -> float:
    """Mean sentence ROUGE-L F1, x100 (the scale the paper reports)."""
    if len(candidates) != len(references):
        raise ValueError("candidates and references differ in length")
    return 100.0 * float(np.mean([rouge_l(c, r) for c, r in zip(candidates, references, strict=True)]))


def corpus_bleu(candidates: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (sacrebleu, 0-100) on the same tokens as ROUGE-L, so Chinese is per character."""
    import sacrebleu

    hyps = [" ".join(metric_tokens(c)) for c in candidates]
    refs = [" ".join(metric_tokens(r)) for r in references]
    return float(sacrebleu.corpus_bleu(hyps, [refs], tokenize="none", force=True).score)


def distinct_n(candidates: Sequence[str], n: int) -> float:
    """Distinct n-grams over all n-grams of all candidates (0 when there are none)."""
    grams = [
        tuple(tokens[i : i + n])
        for tokens in map(metric_tokens, candidates)
        for i in range(len(tokens) - n + 1)
    ]
    return len(set(grams)) / len(grams) if grams else 0.0


def questioner_awareness(
    answers: list[dict[str, str]], references: list[str], true_questioners: list[str]
) -> tuple[float, float]:
    """Answers to the same queries as asked by each questioner -> (spread, own advantage).

    ``answers[i][q]`` answers query i as if questioner ``q`` had asked it. Spread: mean
    pairwise 1 - ROUGE-L between the answers to one query (0 when who asks changes nothing).
    Own advantage: ROUGE-L (x100) against the reference of the answer for the true questioner
    minus the mean over the answers for the other questioners.
    """
    spreads: list[float] = []
    advantages: list[float] = []
    for by_questioner, reference, true in zip(answers, references, true_questioners, strict=True):
        texts = [by_questioner[q] for q in sorted(by_questioner)]
        pairs = [(a, b) for k, a in enumerate(texts) for b in texts[k + 1 :]]
        spreads.append(float(np.mean([1 - rouge_l(a, b) for a, b in pairs])) if pairs else 0.0)
        own = rouge_l(by_questioner[true], reference)
        others = [rouge_l(text, reference) for q, text in by_questioner.items() if q != true]
        advantages.append(float(100 * (own - np.mean(others))) if others else 0.0)
    return float(np.mean(spreads)), float(np.mean(advantages))


# ---- the paper's way (the authors' evaluation scripts) ----
def paper_tokens(text: str, language: str) -> str:
    """Text as the authors hand it to the ``rouge`` package: English split on whitespace as
    written, Chinese one character per token (characters joined by spaces)."""
    if language == "zh":
        return " ".join(ch for ch in text if not ch.isspace())
    return " ".join(text.split())


def paper_rouge(candidates: Sequence[str], references: Sequence[str], language: str,
                ) -> dict[str, list[float]]:
    """Per-pair ROUGE-1/2/L F1 (x100) from the ``rouge`` package, computed as the authors do;
    an empty reply or reference scores 0 (the authors' loop skips it but still divides by the
    number of pairs)."""
    from rouge import Rouge

    if len(candidates) != len(references):
        raise ValueError("candidates and references differ in length")
    scorer = Rouge()
    out: dict[str, list[float]] = {"rouge_1": [], "rouge_2": [], "rouge_l": []}
    for candidate, reference in zip(candidates, references, strict=True):
        hyp, ref = paper_tokens(candidate, language), paper_tokens(reference, language)
        try:
            score = scorer.get_scores(hyp, ref, avg=True)
        except (ValueError, RecursionError):
            score = None
        for key, name in (("rouge_1", "rouge-1"), ("rouge_2", "rouge-2"), ("rouge_l", "rouge-l")):
            out[key].append(100.0 * score[name]["f"] if score else 0.0)
    return out


def sacre_bleu(candidates: Sequence[str], references: Sequence[str], language: str) -> float:
    """Corpus BLEU (0-100) with sacrebleu's standard tokenizer for the language (``13a`` for
    English, ``zh`` for Chinese) on the raw texts."""
    import sacrebleu

    tokenize = "zh" if language == "zh" else "13a"
    return float(sacrebleu.corpus_bleu(list(candidates), [list(references)], tokenize=tokenize).score)


def has_repeated_ngram(tokens: Sequence[str], n: int) -> bool:
    """Whether some n-gram occurs twice in ``tokens``."""
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) < len(grams)


def repeat_rate(candidates: Sequence[str], n: int = 3) -> float:
    """Share of replies in which some n-gram of metric tokens repeats (degenerate loops)."""
    if not candidates:
        return 0.0
    return float(np.mean([has_repeated_ngram(metric_tokens(c), n) for c in candidates]))
