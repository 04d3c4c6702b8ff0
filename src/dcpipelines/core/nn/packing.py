"""One way to store a trained model: a plain dict of tensors, strings and numbers (its spec,
weights and loss history) that ``torch.load(..., weights_only=True)`` reads back, and a
function that rebuilds the model from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from typing import Any

from torch import nn


def pack_model(model: nn.Module, spec: Any, history: list[float], **extra: Any) -> dict[str, Any]:
    """``spec`` (a dataclass or a dict), a copy of the weights, the loss history and ``extra``."""
    return {
        **extra,
        "spec": asdict(spec) if is_dataclass(spec) and not isinstance(spec, type) else dict(spec),
        "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "loss_history": [float(v) for v in history],
    }


def unpack_model(packed: dict[str, Any], build: Callable[[dict[str, Any]], nn.Module]) -> nn.Module:
    """``build(spec)`` with the stored weights loaded, in eval mode."""
    model = build(packed["spec"])
    model.load_state_dict(packed["state_dict"])
    return model.eval()
