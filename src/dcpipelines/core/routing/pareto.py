"""Pareto relative superiority (PRS) of the edge image over the cloud image.

RouteT2I's PRS (the published definition): per quality dimension i the normalised distance
``D_i = sigmoid((q_edge_i - q_cloud_i) / (gamma * |mu_edge_i - mu_cloud_i|))``, where ``mu`` are
the two models' mean qualities on that dimension (measured on the router-training prompts) and
``gamma`` a temperature; ``PRS = sum_i w_i D_i`` with weights summing to one. PRS > 1/2: the
edge image is better, < 1/2: the cloud image is. A dimension where the two models differ little
on average turns a small per-prompt difference into a large distance.

:func:`relative_share_prs` is the reading this project used before (kept as a named ablation):
the share of the summed relative differences ``(q_edge - q_cloud) / q_cloud`` in the edge's
favour; it is scale-free (only the direction of each relative difference counts).
"""

from __future__ import annotations

import numpy as np

EPS = 1e-9
MIN_MEAN_GAP = 1e-3  # floor of |mu_edge - mu_cloud|, so that a dimension with no mean gap stays finite


def mean_gap(mu_edge: np.ndarray, mu_cloud: np.ndarray) -> np.ndarray:
    """``|mu_edge - mu_cloud|`` per dimension, floored at :data:`MIN_MEAN_GAP`."""
    return np.maximum(np.abs(np.asarray(mu_edge, float) - np.asarray(mu_cloud, float)), MIN_MEAN_GAP)


def normalised_distances(q_edge: np.ndarray, q_cloud: np.ndarray, mu_edge: np.ndarray, mu_cloud: np.ndarray,
                         gamma: float = 1.0) -> np.ndarray:
    """``D_i = sigmoid((q_edge_i - q_cloud_i) / (gamma * |mu_edge_i - mu_cloud_i|))`` (last axis)."""
    q_edge, q_cloud = np.asarray(q_edge, float), np.asarray(q_cloud, float)
    if q_edge.shape != q_cloud.shape:
        raise ValueError(f"quality shapes differ: edge {q_edge.shape}, cloud {q_cloud.shape}")
    if gamma <= 0:
        raise ValueError(f"the PRS temperature gamma must be positive, got {gamma}")
    z = (q_edge - q_cloud) / (gamma * mean_gap(mu_edge, mu_cloud))
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic sigmoid, without overflow


def pareto_relative_superiority(q_edge: np.ndarray, q_cloud: np.ndarray, mu_edge: np.ndarray,
                                mu_cloud: np.ndarray, gamma: float = 1.0,
                                weights: np.ndarray | None = None) -> np.ndarray:
    """RouteT2I's PRS of edge over cloud: ``sum_i w_i D_i`` (uniform weights by default)."""
    d = normalised_distances(q_edge, q_cloud, mu_edge, mu_cloud, gamma)
    w = np.full(d.shape[-1], 1.0 / d.shape[-1]) if weights is None else np.asarray(weights, float)
    if w.shape != (d.shape[-1],) or (w < 0).any() or abs(w.sum() - 1.0) > 1e-6:
        raise ValueError(f"PRS weights need {d.shape[-1]} non-negative numbers summing to 1, got {w}")
    return d @ w


def relative_differences(q_edge: np.ndarray, q_cloud: np.ndarray) -> np.ndarray:
    """``(q_edge - q_cloud) / q_cloud`` per dimension (last axis)."""
    q_edge, q_cloud = np.asarray(q_edge, float), np.asarray(q_cloud, float)
    if q_edge.shape != q_cloud.shape:
        raise ValueError(f"quality shapes differ: edge {q_edge.shape}, cloud {q_cloud.shape}")
    return (q_edge - q_cloud) / np.maximum(np.abs(q_cloud), EPS)


def relative_share_prs(q_edge: np.ndarray, q_cloud: np.ndarray) -> np.ndarray:
    """The earlier reading (an ablation): ``sum(max(r, 0)) / sum(|r|)`` of the relative
    differences ``r``; 1 when the edge Pareto-dominates, 0 when the cloud does, 0.5 on a tie."""
    r = relative_differences(q_edge, q_cloud)
    total = np.abs(r).sum(-1)
    ahead = np.clip(r, 0, None).sum(-1)
    return np.where(total > EPS, ahead / np.maximum(total, EPS), 0.5)


def pareto_dominates(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """True where ``a`` is at least as good as ``b`` on every dimension and better on one."""
    a, b = np.asarray(a), np.asarray(b)
    return np.asarray((a >= b).all(-1) & (a > b).any(-1))
