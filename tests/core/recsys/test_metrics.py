"""gAUC and per-user AUC against scikit-learn's roc_auc_score."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from dcpipelines.core.recsys.metrics import gauc, pooled_auc, user_aucs


def _log(seed=0, users=30):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 9, size=users)
    user = np.repeat(np.arange(users), sizes)
    label = rng.integers(0, 2, size=len(user))
    score = np.round(rng.normal(size=len(user)) + 0.8 * label, 1)  # rounding makes ties
    return user, label, score


def test_per_user_auc_matches_sklearn_including_ties():
    user, label, score = _log()
    table = user_aucs(user, label, score).set_index("user")
    for u in np.unique(user):
        rows = user == u
        if label[rows].min() == label[rows].max():
            assert np.isnan(table.loc[u, "auc"])
        else:
            assert table.loc[u, "auc"] == pytest.approx(roc_auc_score(label[rows], score[rows]))
        assert table.loc[u, "impressions"] == rows.sum()


def test_gauc_is_the_impression_weighted_mean_over_users_with_both_labels():
    user, label, score = _log(seed=1)
    total, weight = 0.0, 0
    for u in np.unique(user):
        rows = user == u
        if 0 < label[rows].sum() < rows.sum():
            total += rows.sum() * roc_auc_score(label[rows], score[rows])
            weight += rows.sum()
    assert gauc(user, label, score) == pytest.approx(total / weight)
    assert pooled_auc(label, score) == pytest.approx(roc_auc_score(label, score))


def test_gauc_needs_a_user_with_both_labels():
    with pytest.raises(ValueError, match="no user"):
        gauc(np.array([0, 0, 1]), np.array([1, 1, 0]), np.array([0.1, 0.2, 0.3]))
