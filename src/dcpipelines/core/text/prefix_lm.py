"""A small transformer language model that takes a soft user embedding as extra input.

The user embedding is ``n_prefix`` vectors of the model's width placed next to the token
embeddings. Two tasks share the backbone:

- ``classify``: tokens are left-padded to a fixed length and the user vectors are appended
  after them; attention is bidirectional and the classifier reads the last position (the user
  slot, or the last token when no user vectors are given).
- ``generate``: the user vectors come first and tokens follow (right-padded); attention is
  causal and position ``t`` predicts token ``t + 1`` (the first user slot predicts the first
  token).

A zero embedding is the "no user" input: the central model is trained with it and unseen users
get it. Attention is written with plain tensor operations so that the model can be run under
``torch.func.vmap`` with one set of weights per user.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from typing_extensions import override

PAD, UNK = 0, 1
WORD = re.compile(r"[a-z']+|[.,!?;:]")


@dataclass(frozen=True)
class Vocab:
    """Token ids: 0 pads, 1 is unknown; ``unit`` is ``char`` (Chinese) or ``word`` (English)."""

    tokens: tuple[str, ...]
    unit: str

    @classmethod
    def fit(cls, texts: Iterable[str], unit: str, min_count: int = 2,
            max_size: int | None = None) -> Vocab:
        """Tokens seen at least ``min_count`` times, the most frequent first."""
        counts = Counter(t for text in texts for t in split_units(text, unit))
        kept = sorted((t for t, n in counts.items() if n >= min_count), key=lambda t: (-counts[t], t))
        return cls(("<pad>", "<unk>", *kept[: max_size]), unit)

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no special tokens)."""
        index = self._index
        return [index.get(t, UNK) for t in split_units(text, self.unit)]

    @property
    def _index(self) -> dict[str, int]:
        cached = self.__dict__.get("_cache")
        if cached is None:
            cached = {t: i for i, t in enumerate(self.tokens)}
            object.__setattr__(self, "_cache", cached)
        return cached


def split_units(text: str, unit: str) -> list[str]:
    """Characters (spaces dropped) or lower-cased words and punctuation marks."""
    if unit == "char":
        return [c for c in text if not c.isspace()]
    if unit == "word":
        return WORD.findall(text.lower())
    raise ValueError(f"unknown token unit {unit!r}: use 'char' or 'word'")


def encode_batch(vocab: Vocab, texts: Sequence[str], length: int, *, left_pad: bool) -> torch.Tensor:
    """(N, length) ids; long texts keep their end (left_pad) or their start (right pad)."""
    out = torch.full((len(texts), length), PAD, dtype=torch.long)
    for row, text in enumerate(texts):
        ids = vocab.encode(text)
        ids = ids[-length:] if left_pad else ids[:length]
        if not ids:
            continue
        if left_pad:
            out[row, length - len(ids):] = torch.tensor(ids)
        else:
            out[row, : len(ids)] = torch.tensor(ids)
    return out


class Block(nn.Module):
    """Pre-norm transformer block: self-attention then a two-layer MLP, both residual."""

    def __init__(self, dim: int, heads: int, hidden: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    @override
    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads)
        scores = scores.masked_fill(~allowed.unsqueeze(1), -1e9)
        mixed = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d)
        x = x + self.proj(mixed)
        return x + self.mlp(self.norm2(x))


class PrefixLM(nn.Module):
    """The shared backbone; ``num_classes`` set -> classifier, else next-token model."""

    def __init__(self, vocab_size: int, *, dim: int, layers: int, heads: int, max_len: int,
                 n_prefix: int = 1, num_classes: int | None = None) -> None:
        super().__init__()
        self.dim, self.n_prefix, self.num_classes = dim, n_prefix, num_classes
        self.embed = nn.Embedding(vocab_size, dim)  # N(0, 1): same scale as Beta samples
        self.position = nn.Parameter(torch.randn(max_len + n_prefix, dim) * 0.1)
        self.blocks = nn.ModuleList(Block(dim, heads, 2 * dim) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes or vocab_size)

    @property
    def task(self) -> str:
        """``classify`` when the model has a class head, else ``generate``."""
        return "classify" if self.num_classes else "generate"

    def forward(self, ids: torch.Tensor, prefix: torch.Tensor | None = None) -> torch.Tensor:
        """Logits: (B, classes) when classifying, (B, T, vocab) when generating."""
        if self.task == "classify":
            return self._classify(ids, prefix)
        return self._generate(ids, prefix)

    def _run(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        x = x + self.position[: x.shape[1]]
        for block in self.blocks:
            x = block(x, allowed)
        return self.norm(x)

    def _classify(self, ids: torch.Tensor, prefix: torch.Tensor | None) -> torch.Tensor:
        x, keep = self.embed(ids), ids != PAD
        if prefix is not None:
            x = torch.cat([x, prefix], dim=1)
            keep = torch.cat([keep, torch.ones_like(keep[:, : prefix.shape[1]])], dim=1)
        allowed = keep.unsqueeze(1).expand(-1, keep.shape[1], -1)
        return self.head(self._run(x, allowed)[:, -1])

    def _generate(self, ids: torch.Tensor, prefix: torch.Tensor | None) -> torch.Tensor:
        if prefix is None:
            prefix = torch.zeros(ids.shape[0], self.n_prefix, self.dim)
        x = torch.cat([prefix, self.embed(ids)], dim=1)
        n = x.shape[1]
        causal = torch.ones(n, n, dtype=torch.bool).tril()
        allowed = causal.unsqueeze(0).expand(ids.shape[0], -1, -1)
        hidden = self._run(x, allowed)[:, self.n_prefix - 1 : -1]
        return self.head(hidden)


def sample_scores(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per sample: summed loss, correct predictions and the number of scored targets.

    Classification scores one label per sample; generation scores every next token that is
    neither padding nor unknown (a predicted ``<unk>`` counts as wrong).
    """
    if logits.dim() == 2:
        loss = F.cross_entropy(logits, targets, reduction="none")
        return loss, (logits.argmax(-1) == targets).float(), torch.ones_like(loss)
    valid = (targets != PAD) & (targets != UNK)
    flat = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    loss = (flat * valid).sum(-1)
    correct = ((logits.argmax(-1) == targets) & valid).sum(-1).float()
    return loss, correct, valid.sum(-1).float()


def mean_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Loss averaged over scored targets (labels or tokens)."""
    loss, _, count = sample_scores(logits, targets)
    return loss.sum() / count.sum().clamp(min=1.0)
