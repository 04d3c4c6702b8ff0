"""The standard depth metrics on hand-made arrays."""

import numpy as np
import pytest

from dcpipelines.core.vision.depth_metrics import depth_metrics

TRUE = np.array([[1.0, 2.0], [4.0, 8.0]])


def test_a_perfect_prediction():
    m = depth_metrics(TRUE, TRUE)
    assert m["rmse"] == m["absrel"] == m["log10"] == 0
    assert m["delta1"] == m["delta2"] == m["delta3"] == 1


def test_twice_too_far_everywhere():
    m = depth_metrics(2 * TRUE, TRUE)
    assert m["absrel"] == pytest.approx(1.0)
    assert m["log10"] == pytest.approx(np.log10(2))
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean(TRUE**2)))
    # ratio 2: above 1.25 and 1.25^2 = 1.5625 and 1.25^3 = 1.953
    assert m["delta1"] == m["delta2"] == m["delta3"] == 0


def test_mixed_errors_by_hand():
    pred = np.array([[1.2, 3.0], [4.0, 4.0]])  # ratios 1.2, 1.5, 1, 2
    m = depth_metrics(pred, TRUE)
    assert m["delta1"] == pytest.approx(0.5)
    assert m["delta2"] == pytest.approx(0.75)
    assert m["delta3"] == pytest.approx(0.75)
    assert m["absrel"] == pytest.approx((0.2 + 0.5 + 0 + 0.5) / 4)
    assert m["rmse"] == pytest.approx(np.sqrt((0.04 + 1 + 0 + 16) / 4))


def test_pixels_without_ground_truth_are_ignored():
    true = np.array([[2.0, 0.0]])
    assert depth_metrics(np.array([[2.0, 99.0]]), true)["rmse"] == 0
    with pytest.raises(ValueError, match="no valid"):
        depth_metrics(np.ones((1, 2)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="shape"):
        depth_metrics(np.ones((2, 2)), np.ones((1, 2)))
