import numpy as np
import pytest

from dcpipelines.core.routing import budget as b
from dcpipelines.core.routing.routers import (
    gain_order,
    oracle_routing,
    prompt_length_order,
    routet2i_routing,
)


@pytest.mark.parametrize("n", [1, 7, 10, 333])
@pytest.mark.parametrize("share", [0.0, 0.1, 0.25, 0.5, 0.75, 0.999, 1.0])
def test_allocation_never_exceeds_the_budget(n, share):
    order = np.random.default_rng(n).permutation(n)
    to_cloud = b.allocate(order, share)
    assert to_cloud.sum() <= share * n + 1e-9
    assert to_cloud.sum() == int(np.floor(share * n + 1e-9))
    assert to_cloud[order[: to_cloud.sum()]].all()  # the first prompts of the order go first


def test_allocation_rejects_bad_input():
    with pytest.raises(ValueError, match="share of prompts"):
        b.allocate(np.arange(3), 1.5)
    with pytest.raises(ValueError, match="permutation"):
        b.allocate(np.array([0, 0, 1]), 0.5)


def test_curve_end_points_and_oracle_beats_random():
    rng = np.random.default_rng(1)
    edge, cloud = rng.uniform(0, 1, 200), rng.uniform(0, 1, 200)
    oracle = b.cumulative_quality(gain_order(cloud - edge), edge, cloud)
    assert oracle[0] == pytest.approx(edge.mean()) and oracle[-1] == pytest.approx(cloud.mean())
    random = b.random_curve(200, edge, cloud, seed=0, repeats=20)
    assert (oracle >= random - 1e-12).all()
    assert b.quality_at(gain_order(cloud - edge), edge, cloud, 0.5) == pytest.approx(oracle[100])


def test_gain_recovered_and_budget_to_target():
    assert b.gain_recovered(0.7, 0.5, 0.9) == pytest.approx(0.5)
    curve = np.array([0.5, 0.6, 0.7, 0.9])
    assert b.smallest_budget_reaching(curve, 0.65) == pytest.approx(2 / 3)
    assert b.smallest_budget_reaching(curve, 2.0) == 1.0
    with pytest.raises(ValueError, match="no gain"):
        b.gain_recovered(0.5, 0.5, 0.5)


def test_routet2i_sends_low_prs_first_and_never_a_prompt_the_edge_wins():
    edge = np.array([[0.9, 0.9], [0.2, 0.2], [0.4, 0.4], [0.6, 0.3]])
    cloud = np.array([[0.5, 0.5], [0.8, 0.8], [0.5, 0.5], [0.5, 0.5]])
    mu_edge, mu_cloud = np.array([0.5, 0.5]), np.array([0.6, 0.6])
    # PRS: 1 (cloud far better) < 2 < 3 (trade-off, cloud ahead on balance) < 0 (edge better)
    routing = routet2i_routing(edge, cloud, mu_edge, mu_cloud, gamma=1.0)
    assert routing.order.tolist() == [1, 2, 3, 0]
    assert routing.eligible == 3  # alpha <= 1/2: prompt 0 stays on the edge whatever the budget
    curve = b.capped_curve(b.cumulative_quality(routing.order, edge.mean(1), cloud.mean(1)), routing.eligible)
    assert curve[4] == curve[3] < b.cumulative_quality(routing.order, edge.mean(1), cloud.mean(1))[4] + 1
    assert curve[4] == pytest.approx((0.9 + 0.8 + 0.5 + 0.5) / 4)
    assert prompt_length_order(np.array([3, 9, 9, 1])).tolist() == [1, 2, 0, 3]


def test_gain_target_is_on_the_gain_not_on_absolute_quality():
    assert b.gain_target(0.6, 0.7, 0.95) == pytest.approx(0.695)
    curve = np.array([0.6, 0.66, 0.69, 0.7])  # 95% of the cloud's quality (0.665) is reached at 1/3
    assert b.smallest_budget_reaching(curve, b.gain_target(0.6, 0.7, 0.95)) == pytest.approx(1.0)


def test_oracle_spends_no_request_that_lowers_quality_and_is_never_beaten():
    rng = np.random.default_rng(3)
    edge, cloud = rng.uniform(0, 1, (60, 3)), rng.uniform(0, 1, (60, 3))
    mean_edge, mean_cloud = edge.mean(1), cloud.mean(1)
    oracle = oracle_routing(mean_cloud - mean_edge)
    assert oracle.eligible == int((mean_cloud > mean_edge).sum())
    best = b.capped_curve(b.cumulative_quality(oracle.order, mean_edge, mean_cloud), oracle.eligible)
    capped = routet2i_routing(edge, cloud, edge.mean(0), cloud.mean(0), gamma=1.0)
    other = b.capped_curve(b.cumulative_quality(capped.order, mean_edge, mean_cloud), capped.eligible)
    assert (best >= other - 1e-12).all()
    assert (best >= b.random_curve(60, mean_edge, mean_cloud, seed=0, repeats=10) - 1e-12).all()
