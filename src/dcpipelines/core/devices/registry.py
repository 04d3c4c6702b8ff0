"""The registry of device-side models: every pipeline with a device side registers its models
here, and the ``on_device`` pipeline profiles all of them with the same cost model.

    from dcpipelines.core.devices.registry import register_device_model
    register_device_model("my_model", build_my_model, torch.zeros(1, 3, 64, 64), "what it is")

``builder`` is a zero-argument callable returning the model in eval mode (same weights each
call); ``example_input`` is one batch-1 input of the shape and dtype the device feeds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_REGISTRY: dict[str, DeviceModel] = {}
_BUILTINS_LOADED = False


@dataclass(frozen=True)
class DeviceModel:
    name: str
    builder: Callable[[], Any]
    example_input: Any  # torch.Tensor
    description: str = ""


def register_device_model(
    name: str, builder: Callable[[], Any], example_input: Any, description: str = ""
) -> DeviceModel:
    """Add a device-side model; registering the same name again replaces the entry."""
    if not name.isidentifier():
        raise ValueError(f"device model name {name!r} must be a valid identifier (a-z, 0-9, _)")
    if not callable(builder):
        raise TypeError(f"builder of {name!r} must be callable, got {type(builder).__name__}")
    entry = DeviceModel(name, builder, example_input, description)
    _REGISTRY[name] = entry
    return entry


def registered_device_models() -> dict[str, DeviceModel]:
    """Every registered model, the project's built-in edge models included."""
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        from dcpipelines.core.devices.edge_models import register_builtin_models

        registered_before = dict(_REGISTRY)
        register_builtin_models()
        _REGISTRY.update(registered_before)  # an entry registered earlier keeps its place
        _BUILTINS_LOADED = True
    return dict(_REGISTRY)


def get_device_model(name: str) -> DeviceModel:
    models = registered_device_models()
    if name not in models:
        raise KeyError(f"no device model {name!r}; registered: {sorted(models)}")
    return models[name]


__all__ = ["DeviceModel", "get_device_model", "register_device_model", "registered_device_models"]
