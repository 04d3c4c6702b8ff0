import numpy as np
import pytest

from dcpipelines.core.routing.pareto import (
    MIN_MEAN_GAP,
    normalised_distances,
    pareto_dominates,
    pareto_relative_superiority,
    relative_share_prs,
)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_published_prs_by_hand():
    # D_i = sigmoid((q_e - q_c) / (gamma |mu_e - mu_c|)), PRS = mean of D_i
    edge, cloud = np.array([0.6, 0.3]), np.array([0.4, 0.5])
    mu_edge, mu_cloud = np.array([0.5, 0.4]), np.array([0.6, 0.8])
    expected = np.mean([_sigmoid(0.2 / (2 * 0.1)), _sigmoid(-0.2 / (2 * 0.4))])
    assert pareto_relative_superiority(edge, cloud, mu_edge, mu_cloud, gamma=2.0) == pytest.approx(expected)
    weighted = pareto_relative_superiority(edge, cloud, mu_edge, mu_cloud, gamma=2.0, weights=[0.75, 0.25])
    assert weighted == pytest.approx(0.75 * _sigmoid(1.0) + 0.25 * _sigmoid(-0.25))


def test_tie_is_one_half_and_the_mean_gap_normalises():
    q = np.array([0.4, 0.6])
    assert pareto_relative_superiority(q, q, q, q + 0.1) == pytest.approx(0.5)
    # the same 0.05 difference counts far more on a dimension where the models differ little on average
    edge, cloud = np.array([0.55, 0.5]), np.array([0.5, 0.55])
    d = normalised_distances(edge, cloud, np.array([0.5, 0.5]), np.array([0.51, 0.8]))
    assert d[0] > 0.99 and 0.4 < d[1] < 0.5
    # the arguments are not interchangeable: swapping edge and cloud mirrors the PRS around 1/2
    mu_e, mu_c = np.array([0.5, 0.5]), np.array([0.6, 0.7])
    assert pareto_relative_superiority(cloud, edge, mu_e, mu_c) == pytest.approx(
        1 - pareto_relative_superiority(edge, cloud, mu_e, mu_c))


def test_batched_bounded_monotone_and_finite_without_a_mean_gap():
    rng = np.random.default_rng(0)
    edge, cloud = rng.uniform(0.1, 1, (50, 6)), rng.uniform(0.1, 1, (50, 6))
    mu_e, mu_c = edge.mean(0), cloud.mean(0)
    prs = pareto_relative_superiority(edge, cloud, mu_e, mu_c)
    assert prs.shape == (50,) and ((prs > 0) & (prs < 1)).all()
    better = edge.copy()
    better[:, 2] += 0.05
    assert (pareto_relative_superiority(better, cloud, mu_e, mu_c) > prs).all()
    same = pareto_relative_superiority(edge, cloud, mu_e, mu_e)  # no mean gap: floored, finite
    assert np.isfinite(same).all() and MIN_MEAN_GAP > 0


def test_bad_input_is_an_error():
    with pytest.raises(ValueError, match="shapes differ"):
        pareto_relative_superiority(np.ones(3), np.ones(4), np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="gamma"):
        pareto_relative_superiority(np.ones(2), np.ones(2), np.ones(2), np.zeros(2), gamma=0)
    with pytest.raises(ValueError, match="weights"):
        pareto_relative_superiority(np.ones(2), np.ones(2), np.ones(2), np.zeros(2), weights=[0.9, 0.9])


def test_relative_share_reading_is_kept_as_the_ablation():
    edge, cloud = np.array([0.9, 0.8, 0.7]), np.array([0.5, 0.5, 0.5])
    assert relative_share_prs(edge, cloud) == 1.0 and relative_share_prs(cloud, edge) == 0.0
    assert pareto_dominates(edge, cloud) and not pareto_dominates(cloud, edge)
    # edge +50% relative on the first dimension, -25% on the second: 0.5 / 0.75
    assert relative_share_prs(np.array([0.6, 0.3]), np.array([0.4, 0.4])) == pytest.approx(0.5 / 0.75)
