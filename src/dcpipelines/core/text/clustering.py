"""Question clustering: k-means over sentence embeddings, k given or chosen by silhouette."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Clustering:
    """Query clusters: a label per query, centroids, and the silhouette of the chosen and of every tried k."""
    labels: np.ndarray  # one cluster id per query
    centroids: np.ndarray  # (k, dim)
    silhouette: float
    silhouettes_by_k: dict[int, float]


def cluster_queries(
    embeddings: np.ndarray, k: int | list[int], seed: int, sample_size: int = 2000
) -> Clustering:
    """K-means on ``embeddings``; with a list of k, the k with the best silhouette wins."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    candidates = [k] if isinstance(k, int) else list(k)
    candidates = [c for c in candidates if 2 <= c < len(embeddings)]
    if not candidates:
        raise ValueError(f"no usable number of clusters in {k} for {len(embeddings)} queries")
    best: tuple[float, KMeans] | None = None
    scores: dict[int, float] = {}
    for count in candidates:
        model = KMeans(n_clusters=count, n_init=4, random_state=seed).fit(embeddings)
        score = float(silhouette_score(
            embeddings, model.labels_, metric="cosine",
            sample_size=min(sample_size, len(embeddings)), random_state=seed,
        ))
        scores[count] = score
        if best is None or score > best[0]:
            best = (score, model)
    assert best is not None, "at least one cluster count is tried"
    score, model = best
    return Clustering(model.labels_.astype(np.int64), model.cluster_centers_, score, scores)


def assign_clusters(embeddings: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Nearest centroid of each embedding (for queries outside the fitted set)."""
    distances = ((embeddings[:, None, :] - centroids[None, :, :]) ** 2).sum(-1)
    return distances.argmin(1).astype(np.int64)


def purity(labels: np.ndarray, classes: pd.Series) -> float:
    """Share of items whose cluster's majority class is their own class."""
    table = pd.crosstab(pd.Series(labels, name="cluster"), classes.reset_index(drop=True))
    return float(table.max(axis=1).sum() / table.to_numpy().sum())
