"""Pareto relative superiority (PRS) of the edge image over the cloud image.

Our reading of RouteT2I (no code was released): per quality dimension m take the relative
difference ``r_m = (q_edge_m - q_cloud_m) / q_cloud_m``; the PRS is the share of the total
relative difference that is in the edge's favour, ``sum(max(r_m, 0)) / sum(|r_m|)``. It is 1
when the edge image Pareto-dominates, 0 when the cloud image does, 0.5 on a tie, and above 0.5
when the edge's relative advantages outweigh its disadvantages.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-9


def relative_differences(q_edge: np.ndarray, q_cloud: np.ndarray) -> np.ndarray:
    """``(q_edge - q_cloud) / q_cloud`` per dimension (last axis)."""
    q_edge, q_cloud = np.asarray(q_edge, float), np.asarray(q_cloud, float)
    if q_edge.shape != q_cloud.shape:
        raise ValueError(f"quality shapes differ: edge {q_edge.shape}, cloud {q_cloud.shape}")
    return (q_edge - q_cloud) / np.maximum(np.abs(q_cloud), EPS)


def pareto_relative_superiority(q_edge: np.ndarray, q_cloud: np.ndarray) -> np.ndarray:
    """PRS of edge over cloud for quality vectors on the last axis; 0.5 where they are equal."""
    r = relative_differences(q_edge, q_cloud)
    total = np.abs(r).sum(-1)
    ahead = np.clip(r, 0, None).sum(-1)
    return np.where(total > EPS, ahead / np.maximum(total, EPS), 0.5)


def pareto_dominates(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """True where ``a`` is at least as good as ``b`` on every dimension and better on one."""
    a, b = np.asarray(a), np.asarray(b)
    return np.asarray((a >= b).all(-1) & (a > b).any(-1))
