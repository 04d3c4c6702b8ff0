"""What a client sends to the server after local training: counts and parameter deltas.

Dense parameters travel whole; embedding tables travel as the rows the client touched (row ids
plus the delta of each row), never as a full table. Nothing here holds client data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class SparseRows:
    """The delta of some rows of one table: ``values[j]`` is the delta of row ``row_ids[j]``."""

    row_ids: torch.Tensor  # (R,) int64, distinct
    values: torch.Tensor  # (R, *row_shape)

    def __post_init__(self) -> None:
        if self.row_ids.ndim != 1 or self.values.shape[0] != self.row_ids.shape[0]:
            raise ValueError(
                f"sparse rows: {self.row_ids.shape[0]} row ids but values of shape "
                f"{tuple(self.values.shape)}; give one value row per row id"
            )

    def to_dense(self, num_rows: int) -> torch.Tensor:
        """The update as a dense table of ``num_rows`` rows (zeros where no row was touched)."""
        dense = self.values.new_zeros((num_rows, *self.values.shape[1:]))
        dense[self.row_ids] = self.values
        return dense


@dataclass(frozen=True)
class ClientUpdate:
    """One client's upload: its sample count, dense deltas and sparse row deltas."""

    client_id: int
    num_samples: int
    dense: dict[str, torch.Tensor] = field(default_factory=dict)
    sparse: dict[str, SparseRows] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    def payload_floats(self) -> int:
        """How many numbers the upload carries (row ids included): its communication cost."""
        dense = sum(t.numel() for t in self.dense.values())
        sparse = sum(s.values.numel() + s.row_ids.numel() for s in self.sparse.values())
        return dense + sparse
