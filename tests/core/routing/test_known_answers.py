"""Known answers for RouteT2I's decision: with predictions equal to the truth, in a world where
relative and absolute quality differences disagree, RouteT2I's order is the PRS oracle's and
recovers far more of the gain than random at a 50% cloud rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dcpipelines.core.routing import budget as b
from dcpipelines.core.routing.evaluation import measured_table, router_curves
from dcpipelines.core.routing.pareto import pareto_relative_superiority
from dcpipelines.core.routing.routers import routet2i_order

DIMS = ["sharpness", "colour"]


def test_relative_and_absolute_differences_disagree():
    # relative: +50% on sharpness, -50% on colour -> PRS 0.5; absolute: +0.2 vs -0.1 -> 0.667
    edge, cloud = np.array([0.6, 0.1]), np.array([0.4, 0.2])
    assert pareto_relative_superiority(edge, cloud) == pytest.approx(0.5)
    # the arguments are not interchangeable: relative to the edge's quality, the cloud is
    # -1/3 on sharpness and +100% on colour -> PRS of cloud over edge 1 / (1 + 1/3) = 0.75
    assert pareto_relative_superiority(cloud, edge) == pytest.approx(0.75)


def _world(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Half the prompts: the cloud is clearly better on both dimensions; the other half: the
    edge is slightly better on a low-quality dimension (large relative, small absolute gain)."""
    rng = np.random.default_rng(seed)
    hard = np.arange(n) % 2 == 0
    edge = np.where(hard[:, None], rng.uniform(0.3, 0.4, (n, 2)), rng.uniform(0.5, 0.6, (n, 2)))
    cloud = edge.copy()
    cloud[hard] += rng.uniform(0.2, 0.3, (hard.sum(), 2))  # cloud dominates on hard prompts
    cloud[~hard, 0] -= 0.05  # easy prompts: the edge is better on sharpness ...
    cloud[~hard, 1] += 0.01  # ... and a hair worse on colour
    return edge, cloud


def test_true_predictions_route_like_the_prs_oracle_and_beat_random():
    edge, cloud = _world()
    order = routet2i_order(edge, cloud)
    mean_edge, mean_cloud = edge.mean(1), cloud.mean(1)
    oracle = b.order_by(pareto_relative_superiority(edge, cloud), -(mean_cloud - mean_edge))
    np.testing.assert_array_equal(order, oracle)
    quality = b.quality_at(order, mean_edge, mean_cloud, 0.5)
    recovered = b.gain_recovered(quality, mean_edge.mean(), mean_cloud.mean())
    assert recovered > 0.99  # every prompt where the cloud dominates goes to the cloud first
    random = b.random_curve(len(order), mean_edge, mean_cloud, seed=0, repeats=50)
    assert b.gain_recovered(random[len(order) // 2], mean_edge.mean(), mean_cloud.mean()) < 0.7


def test_router_curves_pass_edge_and_cloud_the_right_way_round():
    edge, cloud = _world(n=100)
    ids = np.arange(100)
    measured = measured_table(ids, {"edge": edge, "cloud": cloud}, DIMS)
    prompts = pd.DataFrame({"prompt_id": ids, "split": "test"})
    predictions = pd.DataFrame({"prompt_id": ids, **{f"edge_{d}": edge[:, i] for i, d in enumerate(DIMS)},
                                **{f"cloud_{d}": cloud[:, i] for i, d in enumerate(DIMS)},
                                "single_metric_gain": cloud.mean(1) - edge.mean(1),
                                "n_tokens": np.ones(100)})
    curves = router_curves(measured, prompts, predictions, seed=0, random_repeats=20)
    half = 50
    routet2i = curves.gain_recovered(float(curves.curves["routet2i"][half]))
    assert routet2i == pytest.approx(curves.gain_recovered(float(curves.curves["oracle_prs"][half])))
    assert routet2i > curves.gain_recovered(float(curves.curves["random"][half])) + 0.3
