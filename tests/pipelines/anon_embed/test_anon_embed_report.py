"""The anon_embed report's accuracy figures on a hand-made score table."""

import pandas as pd
import pytest

from dcpipelines.pipelines.anon_embed.report import per_seed_accuracy, per_seed_macro_f1


def _scores() -> pd.DataFrame:
    # next-word rows score several targets each: accuracy pools targets, not rows
    return pd.DataFrame({
        "variant": ["a", "a", "a", "b", "b"],
        "seed": [1, 1, 2, 1, 1],
        "user": [0, 1, 0, 0, 1],
        "label": [0, 1, 2, 0, 1],
        "pred": [0, 0, 2, 1, 1],
        "correct": [3, 0, 1, 1, 4],
        "count": [4, 6, 1, 1, 4],
    })


def test_accuracy_pools_scored_targets_per_variant_and_seed():
    table = per_seed_accuracy(_scores()).set_index(["variant", "seed"])["acc"]
    assert table[("a", 1)] == pytest.approx(3 / 10)  # not the mean of 3/4 and 0/6
    assert table[("a", 2)] == pytest.approx(1.0)
    assert table[("b", 1)] == pytest.approx(5 / 5)


def test_macro_f1_by_hand():
    table = per_seed_macro_f1(_scores()).set_index(["variant", "seed"])["f1"]
    # variant a, seed 1: labels (0, 1), predictions (0, 0): F1 of class 0 is 2/3, class 1 is 0
    assert table[("a", 1)] == pytest.approx((2 / 3 + 0) / 2)
    # variant b, seed 1: labels (0, 1), predictions (1, 1): class 0 F1 0, class 1 F1 2/3
    assert table[("b", 1)] == pytest.approx((0 + 2 / 3) / 2)
