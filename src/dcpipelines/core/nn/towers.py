"""The dual feed-forward tower of the questioner-aware decoder layer.

Each layer keeps its attention and replaces its MLP by the mean of two towers: the general,
cross-questioner tower (the pretrained MLP with LoRA) and a questioner-specific low-rank MLP
whose bottleneck is shifted by a learned embedding of the questioner.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class QuestionerContext:
    """Which questioner each row of the current batch comes from, shared by all layers."""

    def __init__(self) -> None:
        self.questioners: torch.Tensor | None = None


class QuestionerTower(nn.Module):
    """``up(gelu(down(x) + e_q))``: a rank-``rank`` MLP conditioned on the questioner."""

    def __init__(self, hidden: int, rank: int, questioners: int, context: QuestionerContext) -> None:
        super().__init__()
        self.down = nn.Linear(hidden, rank)
        self.embedding = nn.Embedding(questioners, rank)
        self.up = nn.Linear(rank, hidden)
        nn.init.normal_(self.embedding.weight, std=0.5)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)
        self.context = context

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.context.questioners is None:
            raise RuntimeError("the questioner tower needs the batch's questioners (set the context)")
        shift = self.embedding(self.context.questioners)[:, None, :]
        return self.up(F.gelu(self.down(x) + shift))


class DualTowerMLP(nn.Module):
    """Mean of the general tower and the questioner tower."""

    def __init__(self, general: nn.Module, specific: QuestionerTower) -> None:
        super().__init__()
        self.general = general
        self.specific = specific

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.general(x) + self.specific(x))
