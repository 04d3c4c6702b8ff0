"""The click model shared by the recommendation pipelines: a small Deep Interest Network.

Written so ``torch.func.vmap`` can batch clients or users: the forward pass only indexes the
item table with the ids it is given, and :meth:`DIN.score` takes embeddings directly, so a
caller may add per-user offsets to them before scoring.
"""

from __future__ import annotations

import torch
from torch import nn
from typing_extensions import override


class DIN(nn.Module):
    """Deep Interest Network (Zhou et al., KDD 2018), small: click logit of (item, history).

    Attention scores each clicked history item against the candidate item with a small MLP
    over ``[h, q, h - q, h * q]``; the masked softmax-weighted history is pooled and a small
    MLP over ``[q, pooled, q * pooled]`` gives the logit. With ``num_users > 0`` a user
    embedding table is added and the user's row joins the MLP input, ``[u, q, pooled, q *
    pooled]`` (the FedSubAvg authors' DIN feeds the user embedding to its MLP the same way);
    the input then carries a ``user`` id field.
    """

    def __init__(self, num_items: int, dim: int = 18, attention_hidden: int = 36,
                 hidden: int = 36, num_users: int = 0) -> None:
        super().__init__()
        self.item_embedding = nn.Embedding(num_items, dim, padding_idx=0)
        nn.init.normal_(self.item_embedding.weight, std=0.1)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()
        self.user_embedding = None
        if num_users > 0:
            self.user_embedding = nn.Embedding(num_users, dim, padding_idx=0)
            nn.init.normal_(self.user_embedding.weight, std=0.1)
            with torch.no_grad():
                self.user_embedding.weight[0].zero_()
        self.attention = nn.Sequential(
            nn.Linear(4 * dim, attention_hidden), nn.ReLU(), nn.Linear(attention_hidden, 1)
        )
        inputs = 4 if num_users > 0 else 3
        self.head = nn.Sequential(nn.Linear(inputs * dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def pool(self, q: torch.Tensor, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Attention-weighted sum of the history embeddings ``h`` (..., L, d) given ``q``."""
        qe = q.unsqueeze(-2).expand_as(h)
        scores = self.attention(torch.cat([h, qe, h - qe, h * qe], dim=-1)).squeeze(-1)
        weights = torch.softmax(scores.masked_fill(~mask, -1e9), dim=-1) * mask
        return (weights.unsqueeze(-1) * h).sum(-2)

    def score(self, q: torch.Tensor, h: torch.Tensor, mask: torch.Tensor,
              u: torch.Tensor | None = None) -> torch.Tensor:
        """Logits from candidate embeddings (..., d), history embeddings and history mask."""
        pooled = self.pool(q, h, mask)
        parts = [q, pooled, q * pooled] if u is None else [u, q, pooled, q * pooled]
        return self.head(torch.cat(parts, dim=-1)).squeeze(-1)

    @override
    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        history = x["history"]  # (..., L) item ids, 0 = padding
        u = None if self.user_embedding is None else self.user_embedding(x["user"])
        return self.score(self.item_embedding(x["item"]), self.item_embedding(history),
                          history != 0, u)


class PackedDIN(nn.Module):
    """A DIN that takes one int tensor (B, 2 + L): user id, candidate item id, history ids.

    For exporters and model registries that pass a single tensor; without a user table the
    first column is ignored.
    """

    def __init__(self, din: DIN) -> None:
        super().__init__()
        self.din = din

    @staticmethod
    def pack(features: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, 2 + L) from ``{"user"?, "item", "history"}`` (user 0 when absent)."""
        item = features["item"].unsqueeze(-1)
        user = features.get("user", torch.zeros_like(features["item"])).unsqueeze(-1)
        return torch.cat([user, item, features["history"]], dim=-1)

    @override
    def forward(self, packed: torch.Tensor) -> torch.Tensor:
        packed = packed.long()
        return self.din({"user": packed[:, 0], "item": packed[:, 1], "history": packed[:, 2:]})
