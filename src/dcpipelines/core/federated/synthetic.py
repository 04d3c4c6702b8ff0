"""A synthetic sparse-feature federation for controlled sweeps: Zipf popularity, density knob.

Row r (1-based; 0 is padding) has popularity proportional to ``r ** -zipf_exponent``, so low
ids are hot (shared by many clients) and high ids cold. Each client involves
``density * num_rows`` rows drawn by popularity without replacement; each of its samples
holds ``ids_per_sample`` of those rows, and its label is 1 when the rows' hidden true weights
sum above 0 (a learnable target).
"""

from __future__ import annotations

import numpy as np
import torch

from dcpipelines.core.federated.clients import ClientPartition, make_client

TABLE = "emb.weight"


def zipf_sparse_clients(
    num_clients: int, num_rows: int, *, samples_per_client: int = 20, ids_per_sample: int = 3,
    zipf_exponent: float = 1.1, density: float = 0.01, seed: int = 0,
) -> tuple[list[ClientPartition], np.ndarray]:
    """Clients whose sparse feature ``ids`` index a table of ``num_rows`` rows, and the truth."""
    if not 0 < density <= 1:
        raise ValueError(f"density must be in (0, 1], got {density}")
    rng = np.random.default_rng(seed)
    popularity = np.arange(1, num_rows, dtype=np.float64) ** -zipf_exponent
    popularity /= popularity.sum()
    truth = rng.normal(size=num_rows)
    truth[0] = 0.0
    per_client = max(ids_per_sample, int(round(density * (num_rows - 1))))
    clients = []
    for i in range(num_clients):
        rows = rng.choice(np.arange(1, num_rows), size=per_client, replace=False, p=popularity)
        ids = np.stack([rng.choice(rows, ids_per_sample, replace=False)
                        for _ in range(samples_per_client)])
        labels = (truth[ids].sum(1) > 0).astype(np.float32)
        clients.append(make_client(i, {"ids": torch.tensor(ids)}, torch.tensor(labels),
                                   {TABLE: ["ids"]}))
    return clients, truth
