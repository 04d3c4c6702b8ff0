"""One way to judge a claim: per-seed values, a mean with an interval, paired differences.

A method pipeline runs the part that produces its headline figures once per seed (the
``seeds`` parameter), collects the figures per seed, and judges every "A beats B" claim on
the interval of the paired difference A - B: it holds only when the whole interval lies
above the margin. With a single seed there is no interval, and the claim is "not tested".

Intervals are Student-t intervals over seeds (:func:`summarize`); for per-item values within
one run (users, prompts, clients) :func:`bootstrap` gives a percentile bootstrap interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from dcpipelines.core.reporting import Claim

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A mean over repeated measurements, with a two-sided interval at ``confidence``."""

    values: tuple[float, ...]
    mean: float
    ci_low: float
    ci_high: float
    confidence: float = CONFIDENCE

    @property
    def n(self) -> int:
        """The number of values (seeds or items) behind the estimate."""
        return len(self.values)

    @property
    def has_interval(self) -> bool:
        """False with one value: there is no spread to build an interval from."""
        return self.n >= 2

    def excludes(self, value: float = 0.0) -> bool:
        """True when the interval lies wholly on one side of ``value``."""
        return self.has_interval and (self.ci_low > value or self.ci_high < value)

    def text(self, digits: int = 4) -> str:
        """'0.7123 [0.7011, 0.7235]' (or the bare mean with one value)."""
        if not self.has_interval:
            return f"{self.mean:.{digits}g} (1 seed, no interval)"
        return f"{self.mean:.{digits}g} [{self.ci_low:.{digits}g}, {self.ci_high:.{digits}g}]"


def _finite(values: Iterable[float], what: str) -> tuple[float, ...]:
    out = tuple(float(v) for v in values)
    if not out:
        raise ValueError(f"{what}: no values to summarise")
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{what}: values must be finite, got {out}")
    return out


def summarize(values: Iterable[float], confidence: float = CONFIDENCE) -> Estimate:
    """Mean and Student-t interval of ``values`` (one value: the interval is the value)."""
    vals = _finite(values, "summarize")
    mean = float(np.mean(vals))
    if len(vals) < 2:
        return Estimate(vals, mean, mean, mean, confidence)
    sem = float(np.std(vals, ddof=1)) / math.sqrt(len(vals))
    half = float(stats.t.ppf(0.5 + confidence / 2, df=len(vals) - 1)) * sem
    return Estimate(vals, mean, mean - half, mean + half, confidence)


def paired_difference(
    a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE
) -> Estimate:
    """The interval of a_i - b_i over paired measurements (same seed, same item)."""
    if len(a) != len(b):
        raise ValueError(f"paired_difference: {len(a)} values against {len(b)}; pair them by seed")
    return summarize(np.asarray(a, float) - np.asarray(b, float), confidence)


def bootstrap(
    values: Sequence[float], *, seed: int, resamples: int = 2000,
    confidence: float = CONFIDENCE, statistic: Callable[[np.ndarray], float] = np.mean,
) -> Estimate:
    """Percentile bootstrap interval of ``statistic`` over items (users, prompts, clients)."""
    vals = np.asarray(_finite(values, "bootstrap"))
    point = float(statistic(vals))
    if len(vals) < 2:
        return Estimate(tuple(vals), point, point, point, confidence)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(vals), size=(resamples, len(vals)))
    boot = np.array([statistic(vals[row]) for row in draws])
    tail = (1 - confidence) / 2
    low, high = np.quantile(boot, [tail, 1 - tail])
    return Estimate(tuple(vals), point, float(low), float(high), confidence)


def over_seeds(
    run: Callable[[int], Mapping[str, float]], seeds: Sequence[int]
) -> dict[str, list[float]]:
    """Call ``run(seed)`` for each seed; figures by name, one value per seed (same order)."""
    if not seeds:
        raise ValueError("over_seeds: give at least one seed (parameter `seeds`)")
    per_seed = [dict(run(int(seed))) for seed in seeds]
    names = per_seed[0].keys()
    for seed, figures in zip(seeds, per_seed, strict=True):
        if figures.keys() != names:
            raise ValueError(f"over_seeds: seed {seed} returned other figures than the first")
    return {name: [float(figures[name]) for figures in per_seed] for name in names}


def interval_metrics(key: str, estimate: Estimate) -> dict[str, float]:
    """``{key: mean, key_ci_low: .., key_ci_high: ..}`` for metrics.json."""
    return {key: estimate.mean, f"{key}_ci_low": estimate.ci_low,
            f"{key}_ci_high": estimate.ci_high}


def summarize_all(per_seed: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """Mean and interval metrics for every figure of :func:`over_seeds`."""
    out: dict[str, float] = {}
    for name, values in per_seed.items():
        out.update(interval_metrics(name, summarize(values)))
    return out


def beats(
    claim: str, a_name: str, a: Sequence[float], b_name: str, b: Sequence[float],
    *, margin: float = 0.0, higher_is_better: bool = True, digits: int = 4,
) -> Claim:
    """Judge "A beats B (by more than ``margin``)" on the paired difference over seeds.

    Holds when the whole interval of A - B (or B - A when lower is better) lies above
    ``margin``; does not hold when the interval reaches to or below it; not tested (None) with
    one seed, since no interval exists.
    """
    diff = paired_difference(a, b) if higher_is_better else paired_difference(b, a)
    ea, eb = summarize(a), summarize(b)
    sign = "" if higher_is_better else " (lower is better)"
    measured = (f"{a_name} {ea.text(digits)} vs {b_name} {eb.text(digits)}; "
                f"difference{sign} {diff.text(digits)} over {diff.n} seeds")
    holds = diff.ci_low > margin if diff.has_interval else None
    return Claim(claim, measured, holds)


def at_least(
    claim: str, name: str, values: Sequence[float], threshold: float, *, digits: int = 4,
) -> Claim:
    """Judge "figure >= threshold" on the interval: holds when the lower end reaches it."""
    est = summarize(values)
    measured = f"{name} {est.text(digits)} against a target of {threshold:.{digits}g}"
    holds = est.ci_low >= threshold if est.has_interval else None
    return Claim(claim, measured, holds)
