"""Thin nodes of the on_device pipeline; the cost model lives in ``dcpipelines.core.devices``."""

from __future__ import annotations


def measure_device_models(models: list[str] | str, latency: dict[str, int]):
    """Host measurements and per-profile estimates for the chosen registered models
    (``"all"``: every model any pipeline registered)."""
    from dcpipelines.core.devices.costs import cost_table
    from dcpipelines.core.devices.registry import get_device_model, registered_device_models

    if models == "all":
        chosen = registered_device_models()
    else:
        chosen = {name: get_device_model(name) for name in models}
    return cost_table(chosen, latency)
