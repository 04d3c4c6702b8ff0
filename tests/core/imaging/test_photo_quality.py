"""Quality pairs and controlled degradations for real models scored by a real CLIP."""

import numpy as np
import pytest

from dcpipelines.core.imaging.photo_quality import (
    DEGRADATIONS,
    PHOTO_DIMENSIONS,
    degradation_agreement,
    degrade,
    measure_photos,
    photo_pairs,
)


def _images(n=3, size=32, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.random((n, 1, 1, 3)) * np.ones((n, size, size, 3))
    checker = (np.indices((size, size)).sum(0) % 2)[None, :, :, None]
    return np.clip(0.7 * base + 0.3 * checker, 0, 1).astype(np.float32)


def _saturation(x):
    return (x.max(-1) - x.min(-1)).mean()


def test_ten_dimensions_one_prompt_dependent_pair():
    pairs = photo_pairs("A red bicycle leaning on a wall.")
    assert [d for d, _, _ in pairs] == list(PHOTO_DIMENSIONS) and len(pairs) == 10
    assert ("alignment", "a photo of A red bicycle leaning on a wall", "a photo") in pairs
    assert all(p != n for _, p, n in pairs)
    assert photo_pairs("x")[:-1] == photo_pairs("y")[:-1]


def test_each_degradation_damages_what_it_says():
    x = _images()
    high_freq = lambda a: np.abs(np.diff(a, axis=2)).mean()  # noqa: E731
    assert high_freq(degrade(x, "blur")) < 0.5 * high_freq(x)
    assert _saturation(degrade(x, "desaturate")) < 0.3 * _saturation(x)
    assert degrade(x, "darken").mean() == pytest.approx(0.25 * x.mean(), rel=1e-5)
    noisy = degrade(x, "noise", seed=1)
    assert np.abs(noisy - x).mean() > 0.1
    np.testing.assert_array_equal(noisy, degrade(x, "noise", seed=1))
    assert not np.array_equal(noisy, degrade(x, "noise", seed=2))
    for kind in DEGRADATIONS:
        out = degrade(x, kind, seed=3)
        assert out.shape == x.shape and out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    flat = np.full((1, 16, 16, 3), 0.4, np.float32)
    np.testing.assert_allclose(degrade(flat, "blur"), flat, atol=1e-6)  # a box blur keeps flat images
    with pytest.raises(ValueError, match="unknown degradation"):
        degrade(x, "jpeg")
    with pytest.raises(ValueError, match="N, H, W, 3"):
        degrade(x[0], "blur")


class BrightnessScorer:
    """Stands in for CLIP: rates every positive text by the image's mean brightness."""

    def __init__(self):
        self.calls = []

    def quality(self, images, positives, negatives):
        self.calls.append((list(positives), list(negatives)))
        return np.asarray(images).mean(axis=(1, 2, 3))


def test_measure_photos_sends_each_dimension_its_own_pair():
    scorer = BrightnessScorer()
    x = _images(2)
    q = measure_photos(scorer, x, ["a cat", "a dog"])
    assert q.shape == (2, 10)
    np.testing.assert_allclose(q[:, 0], x.mean(axis=(1, 2, 3)))
    alignment = scorer.calls[PHOTO_DIMENSIONS.index("alignment")]
    assert alignment == (["a photo of a cat", "a photo of a dog"], ["a photo", "a photo"])
    with pytest.raises(ValueError, match="one prompt per image"):
        measure_photos(scorer, x, ["a cat"])


def test_degradation_agreement_judges_clean_against_degraded():
    x = _images(4)
    rows = degradation_agreement(BrightnessScorer(), x, ["p"] * 4)
    assert len(rows) == 4 * len(DEGRADATIONS)
    darken = [r for r in rows if r["kind"] == "degraded:darken"]
    assert all(r["correct"] and r["dimension"] == "lighting" for r in darken)
