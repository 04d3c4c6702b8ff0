"""What training a small model costs a device: FLOPs per sample counted by
``torch.utils.flop_counter.FlopCounterMode``, and a round's estimated time on device profiles.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dcpipelines.core.devices.profiles import PROFILES


def forward_flops_per_sample(model: nn.Module, example: torch.Tensor) -> float:
    """FLOPs of one inference (eval mode) per sample of ``example``'s batch."""
    model = copy.deepcopy(model).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(example)
    return counter.get_total_flops() / example.shape[0]


def training_flops_per_sample(model: nn.Module, example: torch.Tensor) -> float:
    """FLOPs of one forward and backward pass (train mode) per sample of ``example``'s
    batch; the optimiser step is not counted. ``example`` needs at least two samples
    (BatchNorm in train mode)."""
    if example.shape[0] < 2:
        raise ValueError("training FLOPs need a batch of at least two samples (BatchNorm)")
    model = copy.deepcopy(model).train()
    with FlopCounterMode(display=False) as counter:
        model(example).sum().backward()
    return counter.get_total_flops() / example.shape[0]


def round_time_estimates(flops_per_round: float, bytes_per_round: float,
                         memory_mb: float) -> dict[str, float]:
    """Estimated seconds of one round's on-device training on every device profile (the
    roofline cost model of ``core.devices.profiles`` applied to the round's totals)."""
    return {name: profile.estimate(flops_per_round, bytes_per_round, memory_mb)["est_latency_ms"]
            / 1e3 for name, profile in PROFILES.items() if name != "cloud_gpu_server"}
