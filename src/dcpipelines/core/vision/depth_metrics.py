"""The standard monocular depth metrics (Eigen et al., NIPS 2014), over valid pixels.

With prediction p and ground truth g on the pixels where g > 0, pooled over all frames:
RMSE = sqrt(mean (p - g)^2) (metres), AbsRel = mean |p - g| / g, log10 = mean |log10 p - log10 g|,
delta_k = share of pixels with max(p / g, g / p) < 1.25^k for k = 1, 2, 3.
"""

from __future__ import annotations

import numpy as np

METRICS = ("rmse", "absrel", "log10", "delta1", "delta2", "delta3")


def depth_metrics(pred: np.ndarray, true: np.ndarray, min_depth: float = 1e-3) -> dict[str, float]:
    """The six metrics over the pixels where ``true`` > 0; predictions are clipped to
    ``min_depth`` so logs and ratios stay finite."""
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    if pred.shape != true.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from ground truth {true.shape}")
    valid = true > 0
    if not valid.any():
        raise ValueError("no valid ground-truth pixel (all depth values are 0)")
    p, g = np.maximum(pred[valid], min_depth), true[valid]
    ratio = np.maximum(p / g, g / p)
    return {
        "rmse": float(np.sqrt(np.mean((p - g) ** 2))),
        "absrel": float(np.mean(np.abs(p - g) / g)),
        "log10": float(np.mean(np.abs(np.log10(p) - np.log10(g)))),
        "delta1": float(np.mean(ratio < 1.25)),
        "delta2": float(np.mean(ratio < 1.25**2)),
        "delta3": float(np.mean(ratio < 1.25**3)),
    }


__all__ = ["METRICS", "depth_metrics"]
