"""The shared claim helper: intervals that match scipy, claims that can fail."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from dcpipelines.core import claims
from dcpipelines.core.seeds import derive_seed, seed_list


def test_summarize_matches_scipy_t_interval():
    values = [0.71, 0.69, 0.74, 0.70]
    est = claims.summarize(values)
    low, high = stats.t.interval(0.95, df=3, loc=np.mean(values), scale=stats.sem(values))
    assert est.mean == pytest.approx(np.mean(values))
    assert (est.ci_low, est.ci_high) == pytest.approx((low, high))
    assert est.n == 4 and est.has_interval


def test_one_value_has_no_interval_and_claim_is_not_tested():
    est = claims.summarize([0.5])
    assert (est.ci_low, est.ci_high) == (0.5, 0.5) and not est.has_interval
    claim = claims.beats("A beats B", "A", [0.9], "B", [0.1])
    assert claim.holds is None and "no interval" in claim.measured


def test_beats_holds_only_when_paired_interval_excludes_zero():
    a = [0.80, 0.82, 0.81]
    assert claims.beats("A beats B", "A", a, "B", [0.70, 0.71, 0.69]).holds is True
    # B is better on average than A on one seed only, so the paired interval reaches below 0
    assert claims.beats("A beats B", "A", a, "B", [0.70, 0.85, 0.79]).holds is False
    # pairing matters: a constant shift holds even though the spreads overlap
    b = [x - 0.01 for x in [0.5, 0.9, 0.7]]
    assert claims.beats("A beats B", "A", [0.5, 0.9, 0.7], "B", b).holds is True
    # lower is better: a smaller error beats a larger one
    assert claims.beats("A beats B", "A", [1.0, 1.1, 1.05], "B", [2.0, 2.1, 2.2],
                        higher_is_better=False).holds is True
    # a margin that the difference does not clear
    assert claims.beats("A beats B", "A", a, "B", [0.70, 0.71, 0.69], margin=0.2).holds is False


def test_at_least_uses_the_lower_end():
    assert claims.at_least("x >= 0.7", "x", [0.80, 0.81, 0.79], 0.7).holds is True
    assert claims.at_least("x >= 0.7", "x", [0.60, 0.95, 0.75], 0.7).holds is False


def test_paired_difference_needs_pairs():
    with pytest.raises(ValueError, match="pair"):
        claims.paired_difference([1, 2], [1])


def test_bootstrap_interval_brackets_the_mean_and_is_seeded():
    values = np.random.default_rng(0).normal(1.0, 0.5, size=200)
    first = claims.bootstrap(values, seed=3)
    assert first.ci_low < values.mean() < first.ci_high
    assert first == claims.bootstrap(values, seed=3)
    assert first.ci_high - first.ci_low == pytest.approx(2 * 1.96 * 0.5 / np.sqrt(200), rel=0.3)


def test_over_seeds_collects_and_summarises():
    per_seed = claims.over_seeds(lambda s: {"acc": s / 10, "loss": 1 - s / 10}, [1, 2, 3])
    assert per_seed == {"acc": [0.1, 0.2, 0.3], "loss": [0.9, 0.8, 0.7]}
    flat = claims.summarize_all(per_seed)
    assert flat["acc"] == pytest.approx(0.2)
    assert flat["acc_ci_low"] < 0.2 < flat["acc_ci_high"]
    with pytest.raises(ValueError, match="other figures"):
        claims.over_seeds(lambda s: {"a": 1.0} if s == 1 else {"b": 1.0}, [1, 2])


def test_non_finite_values_are_refused():
    with pytest.raises(ValueError, match="finite"):
        claims.summarize([1.0, float("nan")])


def test_seed_rule():
    assert derive_seed(42, "route_t2i.scorer_scenes") == 143
    with pytest.raises(KeyError, match="SEED_OFFSETS"):
        derive_seed(42, "nobody.knows")
    assert seed_list(7, 3) == [7, 8, 9]
    with pytest.raises(ValueError):
        seed_list(7, 0)
