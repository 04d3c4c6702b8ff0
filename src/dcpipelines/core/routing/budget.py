"""Budgeted edge/cloud allocation and the quality-versus-budget figures of a router.

A router is an *order*: the prompts in the order they are sent to the cloud. Under a budget
``b`` (share of prompts the cloud may serve) the first ``floor(b * N)`` prompts go to the cloud
and the rest to the edge, so the budget is never exceeded.
"""

from __future__ import annotations

import numpy as np


def order_by(*keys: np.ndarray) -> np.ndarray:
    """Indices sorted by ``keys`` (the first key decides, later keys break ties, ascending);
    the index itself breaks the remaining ties, so the order is deterministic."""
    n = len(keys[0])
    return np.lexsort((np.arange(n), *reversed([np.asarray(k, float) for k in keys])))


def cloud_count(n: int, budget: float) -> int:
    """How many of ``n`` prompts a cloud budget (share in [0, 1]) lets go to the cloud."""
    if not 0.0 <= budget <= 1.0:
        raise ValueError(f"a cloud budget is a share of prompts in [0, 1], got {budget}")
    return int(np.floor(budget * n + 1e-9))


def allocate(order: np.ndarray, budget: float) -> np.ndarray:
    """Boolean mask: True for the prompts sent to the cloud under ``budget``."""
    order = np.asarray(order)
    if sorted(order.tolist()) != list(range(len(order))):
        raise ValueError("a routing order must be a permutation of the prompt indices")
    to_cloud = np.zeros(len(order), bool)
    to_cloud[order[:cloud_count(len(order), budget)]] = True
    return to_cloud


def routed_quality(to_cloud: np.ndarray, quality_edge: np.ndarray,
                   quality_cloud: np.ndarray) -> float:
    """Mean quality of the images the prompts got."""
    return float(np.where(to_cloud, quality_cloud, quality_edge).mean())


def cumulative_quality(order: np.ndarray, quality_edge: np.ndarray,
                       quality_cloud: np.ndarray) -> np.ndarray:
    """Mean routed quality when the first k prompts of ``order`` go to the cloud, k = 0..N."""
    gains = (np.asarray(quality_cloud) - np.asarray(quality_edge))[np.asarray(order)]
    return (quality_edge.sum() + np.concatenate([[0.0], np.cumsum(gains)])) / len(order)


def capped_curve(curve: np.ndarray, eligible: int) -> np.ndarray:
    """A cumulative-quality curve that stops rising after ``eligible`` cloud requests: a router
    that will not send more prompts serves the same images whatever budget is left."""
    out = np.asarray(curve, float).copy()
    if not 0 <= eligible < len(out):
        return out
    out[eligible + 1:] = out[eligible]
    return out


def quality_at(order: np.ndarray, quality_edge: np.ndarray, quality_cloud: np.ndarray,
               budget: float) -> float:
    """Mean quality served when ``order`` is routed under ``budget``."""
    return routed_quality(allocate(order, budget), quality_edge, quality_cloud)


def gain_recovered(quality: float, quality_edge: float, quality_cloud: float) -> float:
    """Share of the all-edge to all-cloud quality gain that ``quality`` recovers."""
    gap = quality_cloud - quality_edge
    if abs(gap) < 1e-12:
        raise ValueError("edge and cloud have the same mean quality: no gain to recover")
    return (quality - quality_edge) / gap


def gain_target(quality_edge: float, quality_cloud: float, share: float) -> float:
    """The quality that recovers ``share`` of the all-edge to all-cloud gain."""
    return quality_edge + share * (quality_cloud - quality_edge)


def smallest_budget_reaching(curve: np.ndarray, target: float) -> float:
    """Smallest cloud share k/N whose quality (``curve[k]``) reaches ``target``; 1.0 if never."""
    reached = np.flatnonzero(np.asarray(curve) >= target - 1e-12)
    n = len(curve) - 1
    return float(reached[0] / n) if len(reached) else 1.0


def random_curve(n: int, quality_edge: np.ndarray, quality_cloud: np.ndarray,
                 seed: int, repeats: int) -> np.ndarray:
    """Mean over ``repeats`` random orders of :func:`cumulative_quality` (seeded)."""
    rng = np.random.default_rng(seed)
    curves = [cumulative_quality(rng.permutation(n), quality_edge, quality_cloud)
              for _ in range(repeats)]
    return np.mean(curves, axis=0)
