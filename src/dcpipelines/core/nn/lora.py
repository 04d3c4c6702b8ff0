"""LoRA for GPT-2's ``Conv1D`` and ``nn.Linear`` layers (frozen base weight + low-rank update)."""

from __future__ import annotations

import torch
from torch import nn
from typing_extensions import override


class LoRA(nn.Module):
    """``base(x) + (x @ A @ B) * alpha / r``; ``B`` starts at zero so the model starts unchanged."""

    def __init__(self, base: nn.Module, rank: int, alpha: float) -> None:
        super().__init__()
        weight = base.weight
        # transformers' Conv1D stores (in, out); nn.Linear stores (out, in)
        fan_in, fan_out = weight.shape if not isinstance(base, nn.Linear) else weight.shape[::-1]
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.down = nn.Parameter(torch.randn(fan_in, rank) / rank**0.5 * 0.1)
        self.up = nn.Parameter(torch.zeros(rank, fan_out))
        self.scale = alpha / rank

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.down @ self.up) * self.scale
