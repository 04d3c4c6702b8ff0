"""Small models with embedding tables, written so ``torch.func.vmap`` can batch clients.

The click model (DIN) lives in :mod:`dcpipelines.core.recsys.din`.

Every model takes a dict of feature tensors and returns logits. Embedding tables use row 0
as padding; the engine swaps a table for a client's submodel rows, so forward passes only
ever index the table with the ids they are given.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from typing_extensions import override


class NextWord(nn.Module):
    """Next-word prediction from the previous ``context`` words: embeddings -> MLP -> vocab."""

    def __init__(self, vocab: int, context: int, dim: int = 32, hidden: int = 64) -> None:
        super().__init__()
        self.word_embedding = nn.Embedding(vocab, dim, padding_idx=0)
        nn.init.normal_(self.word_embedding.weight, std=0.1)
        with torch.no_grad():
            self.word_embedding.weight[0].zero_()
        self.hidden = nn.Linear(context * dim, hidden)
        self.out = nn.Linear(hidden, vocab)

    @override
    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        e = self.word_embedding(x["context"])  # (..., k, d)
        return self.out(torch.relu(self.hidden(e.flatten(-2))))


def binary_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sample binary cross-entropy on logits."""
    return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), reduction="none")


def multiclass_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy on logits."""
    return F.cross_entropy(logits, labels, reduction="none")
