"""The dc_ccl report's figures on hand-made accuracy tables."""

import pandas as pd
import pytest

from dcpipelines.pipelines.dc_ccl.report import final_round, gap_closed, per_seed, round_histories


def _accuracy() -> pd.DataFrame:
    rows = []
    for seed, shift in ((2, 0.0), (1, 0.1)):
        rows += [{"variant": "cloud_only", "seed": seed, "round": 3, "acc": 0.5 + shift}]
        rows += [{"variant": "dc_ccl", "seed": seed, "round": r, "acc": 0.5 + 0.1 * r + shift}
                 for r in (1, 2, 3)]
    frame = pd.DataFrame(rows)
    return frame.assign(cloud_class_acc=frame["acc"], device_class_acc=frame["acc"] / 2)


def test_gap_closed_by_hand():
    assert gap_closed(0.8, 0.5, 0.9) == pytest.approx(0.75)
    assert gap_closed(0.5, 0.5, 0.9) == 0.0
    assert gap_closed(0.95, 0.5, 0.9) == pytest.approx(1.125)  # above the bound: more than all
    assert gap_closed(0.4, 0.5, 0.9) == pytest.approx(-0.25)  # below cloud-only: negative
    assert gap_closed(0.7, 0.6, 0.6) == 0.0  # no gap to close


def test_final_round_and_per_seed_order():
    final = final_round(_accuracy())
    assert sorted(final["round"].unique()) == [3]
    assert per_seed(final, "dc_ccl") == pytest.approx([0.9, 0.8])  # seeds 1, 2 in that order
    assert per_seed(final, "cloud_only") == pytest.approx([0.6, 0.5])
    with pytest.raises(ValueError, match="centralized"):
        per_seed(final, "centralized")


def test_round_curves_are_means_over_seeds_of_the_round_variants():
    curves = round_histories(_accuracy())
    acc = curves["round_acc"]
    assert list(acc.columns) == ["step", "dc_ccl"]  # cloud-only is scored once, not per round
    assert acc["step"].tolist() == [1, 2, 3]
    assert acc["dc_ccl"].tolist() == pytest.approx([0.65, 0.75, 0.85])
    assert curves["round_device_class_acc"]["dc_ccl"].tolist() == pytest.approx(
        [0.325, 0.375, 0.425])
