"""Feed-forward towers of the questioner-aware decoder layer.

The paper's layout (:class:`StreamMLP`, :class:`StreamNorm`): two streams, a general one and a
questioner-specific one whose input tokens carry a questioner (role) embedding, share each
layer's attention; each has its own feed-forward tower and final norm; the LM head reads the
mean of the two final states. The ``bottleneck_shift`` ablation (:class:`DualTowerMLP`) keeps
one stream and replaces each MLP by the mean of the general MLP and a low-rank MLP whose
bottleneck is shifted by a learned embedding of the questioner.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from typing_extensions import override


class QuestionerContext:
    """Which questioner each row of the current batch comes from, shared by all layers."""

    def __init__(self) -> None:
        self.questioners: torch.Tensor | None = None


class QuestionerTower(nn.Module):
    """``up(gelu(down(x) + e_q))``: a rank-``rank`` MLP conditioned on the questioner (no shift
    for a negative questioner: nobody in particular)."""

    def __init__(self, hidden: int, rank: int, questioners: int, context: QuestionerContext) -> None:
        super().__init__()
        self.down = nn.Linear(hidden, rank)
        self.embedding = nn.Embedding(questioners, rank)
        self.up = nn.Linear(rank, hidden)
        nn.init.normal_(self.embedding.weight, std=0.5)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)
        self.context = context

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.context.questioners is None:
            raise RuntimeError("the questioner tower needs the batch's questioners (set the context)")
        who = self.context.questioners
        shift = (self.embedding(who.clamp(min=0)) * (who >= 0)[:, None].to(x.dtype))[:, None, :]
        return self.up(F.gelu(self.down(x) + shift))


class DualTowerMLP(nn.Module):
    """Mean of the general tower and the questioner tower."""

    def __init__(self, general: nn.Module, specific: QuestionerTower) -> None:
        super().__init__()
        self.general = general
        self.specific = specific

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.general(x) + self.specific(x))


# ---- the two-stream layout of the paper's model ----
class LowRankMLP(nn.Module):
    """``down(silu(gate(x)) * up(x))`` with a ``rank``-wide middle: the questioner-specific
    feed-forward tower of the two-stream model (a gated MLP, as in the base LMs of the paper)."""

    def __init__(self, hidden: int, rank: int) -> None:
        super().__init__()
        self.gate = nn.Linear(hidden, rank, bias=False)
        self.up = nn.Linear(hidden, rank, bias=False)
        self.down = nn.Linear(rank, hidden, bias=False)
        for layer in (self.gate, self.up, self.down):
            nn.init.normal_(layer.weight, std=0.02)

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))


class StreamMLP(nn.Module):
    """The feed-forward part of one layer for a batch holding two streams stacked on the batch
    axis: the first half (general stream) goes through the general MLP, the second half
    (questioner-specific stream) through the low-rank specific MLP. Attention, applied before
    it by the unchanged decoder layer, is shared by both streams."""

    def __init__(self, general: nn.Module, specific: nn.Module) -> None:
        super().__init__()
        self.general = general
        self.specific = specific

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = x.shape[0] // 2
        return torch.cat([self.general(x[:half]), self.specific(x[half:])], dim=0)


class StreamNorm(nn.Module):
    """The final norm of a two-stream batch: each stream its own norm. Keeps the specific
    stream's last-layer output (before its norm) for the contrastive representation."""

    def __init__(self, general: nn.Module, specific: nn.Module) -> None:
        super().__init__()
        self.general = general
        self.specific = specific
        self.last_specific: torch.Tensor | None = None

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = x.shape[0] // 2
        self.last_specific = x[half:]
        return torch.cat([self.general(x[:half]), self.specific(x[half:])], dim=0)
