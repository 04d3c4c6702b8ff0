"""Cost of a model: FLOPs counted by torch's own ``FlopCounterMode``, parameters, host latency.

``FlopCounterMode`` counts the FLOPs of the matrix products and convolutions torch runs (2 per
multiply-add); element-wise work (normalisation, activations, softmax) is not counted, the
same way for every model here.
"""

from __future__ import annotations

import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


@torch.no_grad()
def count_flops(model: nn.Module, *inputs: torch.Tensor) -> int:
    """FLOPs of one forward pass of ``model`` on ``inputs``."""
    was_training = model.training
    model.eval()
    with FlopCounterMode(display=False) as counter:
        model(*inputs)
    model.train(was_training)
    return int(counter.get_total_flops())


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (trainable or frozen)."""
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def host_latency_ms(model: nn.Module, *inputs: torch.Tensor, repeats: int = 50) -> float:
    """Median wall-clock time of one forward pass on this host, in milliseconds."""
    model.eval()
    for _ in range(3):
        model(*inputs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(*inputs)
        times.append(time.perf_counter() - start)
    times.sort()
    return 1000.0 * times[len(times) // 2]
