"""Device-side models as pipelines hand them to the ``on_device`` pipeline.

A pipeline whose trained models run on a device outputs the catalog dataset
``<pipeline>.device_models``: a dict ``{model_name: {"module": nn.Module in eval mode,
"example_input": batch-1 tensor the device feeds it, "description": one line}}``, with names
prefixed by the pipeline's name (see :func:`hand_off`). Two fields are optional: ``"trained"``
(False for a model with seeded weights that no pipeline has trained; True when absent) and
``"quality"`` (``{metric: value}`` measured on held-out data, e.g. ``{"accuracy": 0.97}``), so
that on_device can put accuracy and cost in one table. ``on_device`` reads every handed model
back from one catalog entry and profiles each with the same cost model. This module knows no
model code: it only checks and carries what it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Real
from typing import Any

REQUIRED_FIELDS = ("module", "example_input", "description")


@dataclass(frozen=True)
class DeviceModel:
    """One handed model: its project-wide name, the module, a batch-1 example input and a line
    saying what it is."""

    name: str
    module: Any  # torch.nn.Module in eval mode
    example_input: Any  # torch.Tensor, batch size 1
    description: str = ""
    trained: bool = True
    quality: dict[str, float] = field(default_factory=dict)


def check_entry(name: str, entry: Any) -> DeviceModel:
    """The entry as a :class:`DeviceModel`, or a ValueError saying what is wrong with it."""
    import torch

    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"device model name {name!r} must be a valid identifier (a-z, 0-9, _)")
    if not isinstance(entry, dict) or not set(REQUIRED_FIELDS) <= set(entry):
        raise ValueError(f"device model {name!r} must be a dict with the fields {list(REQUIRED_FIELDS)}")
    if not isinstance(entry["module"], torch.nn.Module):
        raise ValueError(f"device model {name!r}: 'module' must be a torch.nn.Module, "
                         f"got {type(entry['module']).__name__}")
    example = entry["example_input"]
    if not isinstance(example, torch.Tensor) or example.dim() < 1 or example.shape[0] != 1:
        raise ValueError(f"device model {name!r}: 'example_input' must be a batch-1 tensor")
    quality = entry.get("quality") or {}
    if not isinstance(quality, dict) or not all(
            isinstance(k, str) and isinstance(v, Real) for k, v in quality.items()):
        raise ValueError(f"device model {name!r}: 'quality' must map metric names to numbers, "
                         f"e.g. {{'accuracy': 0.9}}; got {quality!r}")
    return DeviceModel(name, entry["module"].eval(), example, str(entry["description"]),
                       bool(entry.get("trained", True)), {k: float(v) for k, v in quality.items()})


def device_models(handed: dict[str, Any]) -> dict[str, DeviceModel]:
    """Every handed entry checked, by name (name order, so figures do not depend on file order)."""
    return {name: check_entry(name, handed[name]) for name in sorted(handed)}


def hand_off(pipeline: str, models: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``models`` under project-wide names ``<pipeline>_<name>``, checked, ready to save as
    ``<pipeline>.device_models``."""
    handed = {f"{pipeline}_{name}": entry for name, entry in models.items()}
    for name, entry in handed.items():
        check_entry(name, entry)
    return handed


__all__ = ["DeviceModel", "check_entry", "device_models", "hand_off"]
