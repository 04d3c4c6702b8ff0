"""User-level click metrics: per-user AUC, gAUC (impression-weighted), pooled AUC."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def user_aucs(users: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """Per user: AUC of ``scores`` against ``labels`` and the number of impressions.

    AUC is the Mann-Whitney statistic with average ranks for ties; users whose test rows have
    only one label get NaN (AUC is undefined for them).
    """
    frame = pd.DataFrame({"user": np.asarray(users), "label": np.asarray(labels, float),
                          "score": np.asarray(scores, float)})
    frame["rank"] = frame.groupby("user")["score"].rank(method="average")
    grouped = frame.groupby("user", sort=True)
    pos = grouped["label"].sum()
    n = grouped.size()
    neg = n - pos
    pos_rank = frame[frame["label"] == 1].groupby("user")["rank"].sum().reindex(n.index, fill_value=0)
    valid = (pos > 0) & (neg > 0)
    auc = (pos_rank - pos * (pos + 1) / 2) / (pos * neg).where(valid)
    return pd.DataFrame({"user": n.index.to_numpy(), "auc": auc.to_numpy(float),
                         "impressions": n.to_numpy(np.int64)})


def gauc(users: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> float:
    """Impression-weighted mean of per-user AUC over users with both labels in their rows."""
    per_user = user_aucs(users, labels, scores).dropna(subset=["auc"])
    if per_user.empty:
        raise ValueError("gauc: no user has both a click and a non-click")
    return float(np.average(per_user["auc"], weights=per_user["impressions"]))


def pooled_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """AUC over all rows together (every user's impressions in one ranking)."""
    return float(roc_auc_score(np.asarray(labels), np.asarray(scores)))
