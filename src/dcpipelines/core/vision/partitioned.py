"""Partitioned linear projection with feature shuffling (ICIIA's cheap projection).

The input (..., d_in) is cut into ``partitions`` equal blocks; block p is projected by its own
(d_in/P) x (d_out/P) matrix (a block-diagonal weight), so the cost falls P-fold. Without
shuffling, output block p depends only on input block p. Shuffling lays the (P, k) block
output out as (k, P) before flattening: output position ``j * P + p`` holds element j of
block p, so that any later contiguous slice (an attention head, the next projection's block)
sees every partition.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from typing_extensions import override


class PartitionedLinear(nn.Module):
    """Block-diagonal linear map with ``partitions`` blocks and optional feature shuffling."""

    def __init__(self, in_features: int, out_features: int, partitions: int = 1,
                 shuffle: bool = True, bias: bool = True) -> None:
        super().__init__()
        if partitions < 1 or in_features % partitions or out_features % partitions:
            raise ValueError(f"partitions={partitions} must divide in_features={in_features} "
                             f"and out_features={out_features}")
        self.in_features, self.out_features = in_features, out_features
        self.partitions, self.shuffle = partitions, shuffle
        self.block_in, self.block_out = in_features // partitions, out_features // partitions
        self.weight = nn.Parameter(torch.empty(partitions, self.block_in, self.block_out))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.reset_parameters()

    @override
    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.block_in)  # as nn.Linear, with the block's fan-in
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        blocks = x.reshape(-1, self.partitions, self.block_in).transpose(0, 1)  # (P, N, k_in)
        out = torch.bmm(blocks, self.weight)  # (P, N, k_out)
        # shuffled: (N, k_out, P), position j * P + p; plain: (N, P, k_out), position p * k + j
        out = out.permute(1, 2, 0) if self.shuffle else out.transpose(0, 1)
        out = out.reshape(*lead, self.out_features)
        return out if self.bias is None else out + self.bias

    @classmethod
    def from_dense(cls, dense: nn.Linear) -> PartitionedLinear:
        """P = 1 copy of a dense layer (same function)."""
        layer = cls(dense.in_features, dense.out_features, 1, shuffle=False,
                    bias=dense.bias is not None)
        with torch.no_grad():
            layer.weight.copy_(dense.weight.t().unsqueeze(0))
            if dense.bias is not None and layer.bias is not None:
                layer.bias.copy_(dense.bias)
        return layer

    @override
    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"partitions={self.partitions}, shuffle={self.shuffle}")


def shuffle_permutation(features: int, partitions: int) -> torch.Tensor:
    """Index map of the shuffle: ``shuffled[..., i] == plain[..., perm[i]]``."""
    block = features // partitions
    positions = torch.arange(features).view(partitions, block)  # plain layout (P, k)
    return positions.t().reshape(-1)
