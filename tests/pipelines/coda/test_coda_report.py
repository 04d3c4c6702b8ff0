"""The coda report's gAUC, pooled AUC and improved share against scikit-learn and by hand."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from dcpipelines.pipelines.coda.report import improved_fraction, per_user_table, run_table


def _scores(seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for run_seed in (3, 4):
        for variant in ("cloud_global", "coda"):
            users = np.repeat(np.arange(12), rng.integers(2, 8, size=12))
            label = rng.integers(0, 2, size=len(users))
            score = np.round(rng.normal(size=len(users)) + label, 1)  # ties included
            frames.append(pd.DataFrame({"seed": run_seed, "variant": variant, "retrieved": 40,
                                        "user": users, "label": label, "score": score}))
    return pd.concat(frames, ignore_index=True)


def test_gauc_and_auc_per_run_match_sklearn():
    scores = _scores()
    runs = run_table(scores, per_user_table(scores)).set_index(["seed", "variant"])
    for (seed, variant), part in scores.groupby(["seed", "variant"]):
        total = weight = 0.0
        for _, rows in part.groupby("user"):
            if rows["label"].nunique() == 2:
                total += len(rows) * roc_auc_score(rows["label"], rows["score"])
                weight += len(rows)
        assert runs.loc[(seed, variant), "gauc"] == pytest.approx(total / weight)
        assert runs.loc[(seed, variant), "auc"] == pytest.approx(
            roc_auc_score(part["label"], part["score"]))


def test_improved_fraction_by_hand():
    users = pd.DataFrame({
        "seed": [1] * 6 + [2] * 4, "retrieved": 40,
        "variant": ["coda", "cloud_global"] * 5,
        "user": [0, 0, 1, 1, 2, 2, 0, 0, 1, 1],
        "auc": [0.9, 0.8, 0.5, 0.5, 0.4, 0.6, 0.7, 0.6, np.nan, np.nan],
        "impressions": 5,
    })
    # seed 1: user 0 better, user 1 tied, user 2 worse; seed 2: user 0 better, user 1 has one
    # label only (no AUC under any variant), so it is not evaluated
    assert improved_fraction(users, 40) == pytest.approx([1 / 3, 1.0])
    assert improved_fraction(users, 40, sign=-1) == pytest.approx([1 / 3, 0.0])
