"""A 2-D picture of uploaded embeddings: principal components, a few users."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch


def project_embeddings(embeddings: torch.Tensor, owners: np.ndarray, users: int,
                       points_per_user: int) -> pd.DataFrame:
    """First two principal components of the embeddings of the ``users`` lowest user indices,
    at most ``points_per_user`` each; columns user, pc1, pc2."""
    flat = embeddings.flatten(1).double().numpy()
    keep = np.concatenate([np.flatnonzero(owners == u)[:points_per_user] for u in range(users)])
    chosen = flat[keep] - flat[keep].mean(0)
    _, _, vt = np.linalg.svd(chosen, full_matrices=False)
    coords = chosen @ vt[:2].T
    if coords.shape[1] < 2:
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    return pd.DataFrame({"user": owners[keep], "pc1": coords[:, 0], "pc2": coords[:, 1]})
