"""K-means query clustering with k by silhouette, nearest-centroid assignment, purity."""

import numpy as np
import pandas as pd

from dcpipelines.core.text.clustering import assign_clusters, cluster_queries, purity


def blobs(seed=0):
    rng = np.random.default_rng(seed)
    centres = np.eye(8)[:3] * 5
    points = np.concatenate([c + rng.normal(0, 0.1, (30, 8)) for c in centres])
    return points.astype(np.float32), np.repeat([0, 1, 2], 30)


def test_silhouette_picks_the_true_number_of_clusters():
    points, truth = blobs()
    fitted = cluster_queries(points, [2, 3, 5], seed=0)
    assert len(fitted.centroids) == 3
    assert fitted.silhouettes_by_k[3] > fitted.silhouettes_by_k[2]
    assert purity(fitted.labels, pd.Series(truth)) == 1.0
    assert (assign_clusters(points, fitted.centroids) == fitted.labels).all()


def test_purity_of_a_mixed_clustering():
    assert purity(np.array([0, 0, 1, 1]), pd.Series(["a", "b", "a", "a"])) == 0.75
