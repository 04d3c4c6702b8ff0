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


def _pixel_by_pixel(pred, true):
    """The six metrics by an explicit loop over the valid pixels of every frame (the reference)."""
    sq, rel, lg, within, n = 0.0, 0.0, 0.0, [0, 0, 0], 0
    for p, g in zip(np.ravel(pred), np.ravel(true), strict=True):
        if g <= 0:
            continue
        n += 1
        sq += (p - g) ** 2
        rel += abs(p - g) / g
        lg += abs(np.log10(p) - np.log10(g))
        ratio = max(p / g, g / p)
        for k in range(3):
            within[k] += ratio < 1.25 ** (k + 1)
    return {"rmse": np.sqrt(sq / n), "absrel": rel / n, "log10": lg / n,
            "delta1": within[0] / n, "delta2": within[1] / n, "delta3": within[2] / n}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_frames_match_a_pixel_by_pixel_reference(seed):
    """Several frames with different numbers of valid pixels, predictions too near and too far:
    the metrics pool pixels over frames (not a mean of per-frame figures)."""
    rng = np.random.default_rng(seed)
    true = rng.uniform(0.5, 10.0, (4, 6, 5))
    true[rng.random(true.shape) < np.linspace(0.05, 0.7, 4)[:, None, None]] = 0.0
    pred = true * rng.uniform(0.4, 2.2, true.shape) + rng.uniform(0.01, 0.2, true.shape)
    got, want = depth_metrics(pred, true), _pixel_by_pixel(pred, true)
    assert got == {k: pytest.approx(v, rel=1e-12) for k, v in want.items()}
    assert 0 < got["delta1"] < got["delta2"] < got["delta3"] < 1
