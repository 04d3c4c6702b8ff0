"""Known answers for RouteT2I's decision: with predictions equal to the truth, in a world where
relative and absolute quality differences disagree, RouteT2I routes exactly like its oracle (the
published PRS of the true qualities, alpha <= 1/2) and recovers far more of the gain than random
at a 50% cloud rate; edge and cloud must be passed the right way round."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dcpipelines.core.routing import budget as b
from dcpipelines.core.routing.evaluation import (
    KEY_TOKEN_GATE,
    PREDICTORS,
    QUALITY_MODEL,
    measured_table,
    router_curves,
)
from dcpipelines.core.routing.pareto import (
    normalised_distances,
    pareto_relative_superiority,
    relative_share_prs,
)
from dcpipelines.core.routing.routers import BASELINES, routet2i_routing

DIMS = ["sharpness", "colour"]


def test_relative_and_absolute_differences_disagree():
    # relative: +50% on sharpness, -50% on colour -> 0.5; published PRS: +0.2 against -0.1 -> edge ahead
    edge, cloud = np.array([0.6, 0.1]), np.array([0.4, 0.2])
    mu_edge, mu_cloud = np.array([0.5, 0.5]), np.array([0.6, 0.6])
    assert relative_share_prs(edge, cloud) == pytest.approx(0.5)
    assert pareto_relative_superiority(edge, cloud, mu_edge, mu_cloud) > 0.55
    assert pareto_relative_superiority(cloud, edge, mu_edge, mu_cloud) < 0.45


def _world(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Half the prompts: the cloud is clearly better on both dimensions; the other half: the
    edge is better on sharpness and a hair worse on colour (the edge wins those prompts)."""
    rng = np.random.default_rng(seed)
    hard = np.arange(n) % 2 == 0
    edge = np.where(hard[:, None], rng.uniform(0.3, 0.4, (n, 2)), rng.uniform(0.5, 0.6, (n, 2)))
    cloud = edge.copy()
    cloud[hard] += rng.uniform(0.2, 0.3, (hard.sum(), 2))  # cloud dominates on hard prompts
    cloud[~hard, 0] -= 0.05  # easy prompts: the edge is better on sharpness ...
    cloud[~hard, 1] += 0.01  # ... and a hair worse on colour
    return edge, cloud


def test_true_predictions_route_like_the_oracle_and_beat_random():
    edge, cloud = _world()
    mu_edge, mu_cloud = edge.mean(0), cloud.mean(0)
    routing = routet2i_routing(edge, cloud, mu_edge, mu_cloud, gamma=1.0)
    hard = np.arange(len(edge)) % 2 == 0
    assert routing.eligible == hard.sum()  # the prompts the edge wins never go to the cloud
    assert set(routing.order[:routing.eligible]) == set(np.flatnonzero(hard))
    mean_edge, mean_cloud = edge.mean(1), cloud.mean(1)
    curve = b.capped_curve(b.cumulative_quality(routing.order, mean_edge, mean_cloud), routing.eligible)
    recovered = b.gain_recovered(curve[len(edge) // 2], mean_edge.mean(), mean_cloud.mean())
    assert recovered > 0.99
    random = b.random_curve(len(edge), mean_edge, mean_cloud, seed=0, repeats=50)
    assert b.gain_recovered(random[len(edge) // 2], mean_edge.mean(), mean_cloud.mean()) < 0.7


def _truth_predictions(edge: np.ndarray, cloud: np.ndarray, ids: np.ndarray) -> pd.DataFrame:
    columns: dict[str, np.ndarray] = {"seed": np.zeros(len(ids), int), "prompt_id": ids}
    distances = normalised_distances(edge, cloud, edge.mean(0), cloud.mean(0))
    for name in [*PREDICTORS, KEY_TOKEN_GATE]:
        if name in (QUALITY_MODEL, KEY_TOKEN_GATE):  # heads that predict both qualities
            for i, d in enumerate(DIMS):
                columns[f"{name}__edge_{d}"], columns[f"{name}__cloud_{d}"] = edge[:, i], cloud[:, i]
        elif name == "ablation_no_multi_metric":  # one head: the PRS itself
            columns[f"{name}__distance_mean"] = distances.mean(1)
        else:  # one head per dimension: its D_i
            for i, d in enumerate(DIMS):
                columns[f"{name}__distance_{d}"] = distances[:, i]
    for kind in BASELINES:
        columns[f"{kind}_score"] = cloud.mean(1) - edge.mean(1)
    columns["n_tokens"] = np.ones(len(ids))
    return pd.DataFrame(columns)


def test_router_curves_pass_edge_and_cloud_the_right_way_round():
    edge, cloud = _world(n=100)
    ids = np.arange(100)
    measured = measured_table(ids, {"edge": edge, "cloud": cloud}, DIMS)
    prompts = pd.DataFrame({"prompt_id": ids, "split": "test"})
    mu = {"edge": edge.mean(0), "cloud": cloud.mean(0)}
    curves = router_curves(measured, prompts, _truth_predictions(edge, cloud, ids), seed=0, random_repeats=20,
                           mu=mu, gamma=1.0)
    half = 50
    routet2i = curves.gain_recovered(float(curves.curves["routet2i"][half]))
    assert routet2i == pytest.approx(curves.gain_recovered(float(curves.curves["oracle_prs"][half])))
    for name in ("ablation_plugin_prs", "ablation_no_token_selection", "ablation_no_multi_metric"):
        assert curves.curves[name][half] == pytest.approx(curves.curves["oracle_prs"][half])
    assert routet2i > curves.gain_recovered(float(curves.curves["random"][half])) + 0.3
    # capped: past the prompts the cloud wins, more budget buys RouteT2I nothing
    assert curves.curves["routet2i"][-1] == pytest.approx(curves.curves["routet2i"][half])


def test_optional_routers_are_opt_in_and_checked():
    from dcpipelines.core.routing.evaluation import optional_routers

    assert optional_routers({}) == [] and optional_routers({"optional": None}) == []
    assert optional_routers({"optional": [KEY_TOKEN_GATE]}) == [KEY_TOKEN_GATE]
    with pytest.raises(ValueError, match="unknown router"):
        optional_routers({"optional": ["ablation_nothing"]})
