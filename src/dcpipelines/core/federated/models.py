"""Small models with embedding tables, written so ``torch.func.vmap`` can batch clients.

Every model takes a dict of feature tensors and returns logits. Embedding tables use row 0
as padding; the engine swaps a table for a client's submodel rows, so forward passes only
ever index the table with the ids they are given.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DIN(nn.Module):
    """Deep Interest Network (Zhou et al., KDD 2018), small: click logit of (item, history).

    Attention scores each clicked history item against the candidate item with a small MLP
    over ``[h, q, h - q, h * q]``; the masked softmax-weighted history is pooled and a small
    MLP over ``[q, pooled, q * pooled]`` gives the logit.
    """

    def __init__(self, num_items: int, dim: int = 18, attention_hidden: int = 36,
                 hidden: int = 36) -> None:
        super().__init__()
        self.item_embedding = nn.Embedding(num_items, dim, padding_idx=0)
        nn.init.normal_(self.item_embedding.weight, std=0.1)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()
        self.attention = nn.Sequential(
            nn.Linear(4 * dim, attention_hidden), nn.ReLU(), nn.Linear(attention_hidden, 1)
        )
        self.head = nn.Sequential(nn.Linear(3 * dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        history = x["history"]  # (..., L) item ids, 0 = padding
        q = self.item_embedding(x["item"])  # (..., d)
        h = self.item_embedding(history)  # (..., L, d)
        qe = q.unsqueeze(-2).expand_as(h)
        scores = self.attention(torch.cat([h, qe, h - qe, h * qe], dim=-1)).squeeze(-1)
        mask = history != 0
        weights = torch.softmax(scores.masked_fill(~mask, -1e9), dim=-1) * mask
        pooled = (weights.unsqueeze(-1) * h).sum(-2)
        return self.head(torch.cat([q, pooled, q * pooled], dim=-1)).squeeze(-1)


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

    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        e = self.word_embedding(x["context"])  # (..., k, d)
        return self.out(torch.relu(self.hidden(e.flatten(-2))))


def binary_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sample binary cross-entropy on logits."""
    return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), reduction="none")


def multiclass_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy on logits."""
    return F.cross_entropy(logits, labels, reduction="none")
