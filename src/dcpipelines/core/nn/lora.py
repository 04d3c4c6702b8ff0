"""LoRA for GPT-2's ``Conv1D`` and ``nn.Linear`` layers (frozen base weight + low-rank update)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from typing_extensions import override


class LoRA(nn.Module):
    """``base(x) + (x @ A @ B) * alpha / r``; ``B`` starts at zero so the model starts unchanged.
    Without gradients (scoring, generation) the update is folded into the weight first: one
    matrix product instead of three."""

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
        self.linear = isinstance(base, nn.Linear)

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            return self.base(x) + (x @ self.down @ self.up) * self.scale
        update = self.down @ self.up * self.scale
        weight = self.base.weight + (update.T if self.linear else update)
        bias = self.base.bias
        if self.linear:
            return F.linear(x, weight, bias)
        flat = x.reshape(-1, x.shape[-1])
        out = flat @ weight if bias is None else torch.addmm(bias, flat, weight)
        return out.reshape(*x.shape[:-1], weight.shape[-1])
