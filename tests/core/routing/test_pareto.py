import numpy as np
import pytest

from dcpipelines.core.routing.pareto import pareto_dominates, pareto_relative_superiority


def test_dominance_gives_the_extremes():
    edge = np.array([0.9, 0.8, 0.7])
    cloud = np.array([0.5, 0.5, 0.5])
    assert pareto_relative_superiority(edge, cloud) == 1.0
    assert pareto_relative_superiority(cloud, edge) == 0.0
    assert pareto_dominates(edge, cloud) and not pareto_dominates(cloud, edge)


def test_tie_is_one_half_and_trade_off_is_weighted_by_relative_difference():
    q = np.array([0.4, 0.6])
    assert pareto_relative_superiority(q, q) == 0.5
    # edge +50% relative on the first dimension, -25% on the second: 0.5 / 0.75
    edge, cloud = np.array([0.6, 0.3]), np.array([0.4, 0.4])
    assert pareto_relative_superiority(edge, cloud) == pytest.approx(0.5 / 0.75)
    assert not pareto_dominates(edge, cloud) and not pareto_dominates(cloud, edge)


def test_batched_bounded_and_monotone():
    rng = np.random.default_rng(0)
    edge, cloud = rng.uniform(0.1, 1, (50, 6)), rng.uniform(0.1, 1, (50, 6))
    prs = pareto_relative_superiority(edge, cloud)
    assert prs.shape == (50,) and ((prs >= 0) & (prs <= 1)).all()
    # a better edge image on one dimension never lowers its superiority
    better = edge.copy()
    better[:, 2] += 0.05
    assert (pareto_relative_superiority(better, cloud) >= prs - 1e-12).all()
    assert (pareto_relative_superiority(better, cloud) > prs).any()


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shapes differ"):
        pareto_relative_superiority(np.ones(3), np.ones(4))
