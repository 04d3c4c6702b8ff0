"""The click model shared by the recommendation pipelines: a small Deep Interest Network.

Written so ``torch.func.vmap`` can batch clients or users: the forward pass only indexes the
item table with the ids it is given, and :meth:`DIN.score` takes embeddings directly, so a
caller may add per-user offsets to them before scoring.
"""

from __future__ import annotations

import torch
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

    def pool(self, q: torch.Tensor, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Attention-weighted sum of the history embeddings ``h`` (..., L, d) given ``q``."""
        qe = q.unsqueeze(-2).expand_as(h)
        scores = self.attention(torch.cat([h, qe, h - qe, h * qe], dim=-1)).squeeze(-1)
        weights = torch.softmax(scores.masked_fill(~mask, -1e9), dim=-1) * mask
        return (weights.unsqueeze(-1) * h).sum(-2)

    def score(self, q: torch.Tensor, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits from candidate embeddings (..., d), history embeddings and history mask."""
        pooled = self.pool(q, h, mask)
        return self.head(torch.cat([q, pooled, q * pooled], dim=-1)).squeeze(-1)

    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        history = x["history"]  # (..., L) item ids, 0 = padding
        return self.score(self.item_embedding(x["item"]), self.item_embedding(history),
                          history != 0)
