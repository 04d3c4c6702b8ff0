"""Client partitions: each client's private samples, kept on its side of the boundary.

A client's sparse id features are stored in *local* ids: local id j stands for global row
``rows[table][j]``. The client downloads only those rows (its submodel) and uploads deltas for
only those rows. Local id 0 is always the padding row (global row 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class ClientPartition:
    """One client's private training data plus the global rows its data involve."""

    client_id: int
    features: dict[str, torch.Tensor]  # each (n, ...); sparse id fields hold local ids
    labels: torch.Tensor  # (n,)
    rows: dict[str, torch.Tensor]  # table name -> (R,) global row ids, rows[t][0] == 0

    @property
    def num_samples(self) -> int:
        """How many training samples the client holds."""
        return int(self.labels.shape[0])


def localize_ids(
    features: Mapping[str, torch.Tensor], id_fields: Sequence[str]
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Rewrite the global ids in ``id_fields`` as local ids; returns (features, global rows).

    Global id 0 (padding) always becomes local id 0.
    """
    used = torch.cat([features[f].reshape(-1) for f in id_fields])
    rows = torch.unique(torch.cat([torch.zeros(1, dtype=used.dtype), used]))  # sorted, 0 first
    local = dict(features)
    for f in id_fields:
        local[f] = torch.searchsorted(rows, features[f])
    return local, rows


def make_client(
    client_id: int,
    features: Mapping[str, torch.Tensor],
    labels: torch.Tensor,
    id_fields: Mapping[str, Sequence[str]],
) -> ClientPartition:
    """A client from its global-id samples; ``id_fields`` maps each table to its id fields."""
    rows: dict[str, torch.Tensor] = {}
    local = dict(features)
    for table, fields in id_fields.items():
        local, rows[table] = localize_ids(local, fields)
    return ClientPartition(client_id, local, labels, rows)


def row_density(clients: Sequence[ClientPartition], table: str, num_rows: int) -> float:
    """Mean fraction of the table's rows a client involves (the padding row left out)."""
    return float(np.mean([(c.rows[table].numel() - 1) / (num_rows - 1) for c in clients]))


def dirichlet_label_split(
    labels: np.ndarray, num_clients: int, alpha: float, seed: int, min_size: int = 2
) -> list[np.ndarray]:
    """Non-i.i.d. split: each class is spread over clients by Dirichlet(alpha) proportions.

    Small alpha gives strong label skew. Redraws until every client holds ``min_size`` samples.
    """
    if alpha <= 0:
        raise ValueError(f"Dirichlet alpha must be > 0, got {alpha}")
    if num_clients * min_size > len(labels):
        raise ValueError(
            f"{len(labels)} samples cannot give {num_clients} clients {min_size} samples each; "
            "lower num_clients"
        )
    rng = np.random.default_rng(seed)
    for _ in range(1000):
        parts: list[list[int]] = [[] for _ in range(num_clients)]
        for label in np.unique(labels):
            idx = rng.permutation(np.flatnonzero(labels == label))
            shares = rng.dirichlet(np.full(num_clients, alpha))
            cuts = (np.cumsum(shares)[:-1] * len(idx)).astype(int)
            for part, chunk in zip(parts, np.split(idx, cuts), strict=True):
                part.extend(chunk.tolist())
        if min(len(p) for p in parts) >= min_size:
            return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]
    raise ValueError(
        f"no Dirichlet(alpha={alpha}) split gave every client {min_size} samples; "
        "raise alpha or lower num_clients"
    )
