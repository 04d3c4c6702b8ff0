"""Thin nodes of the on_device pipeline; the cost model lives in ``dcpipelines.core.devices``."""

from __future__ import annotations

from typing import Any


def measure_device_models(device_models: dict[str, Any], models: list[str] | str,
                          latency: dict[str, int], *handed_in_this_run: Any):
    """Host measurements and per-profile estimates for every model the pipelines handed over
    (or the chosen names). With nothing handed yet, walle's reference edge models with seeded
    weights stand in. ``handed_in_this_run`` is only there to order a full run: models are
    measured after every pipeline has handed its own."""
    from dcpipelines.core.devices.costs import cost_table
    from dcpipelines.core.devices.models import device_models as checked
    from dcpipelines.core.devices.models import hand_off

    handed = dict(device_models)
    if not handed:
        from dcpipelines.core.nn.edge_models import reference_edge_models

        handed = hand_off("walle", reference_edge_models())
    chosen = checked(handed)
    if models != "all":
        unknown = sorted(set(models) - set(chosen))
        if unknown:
            raise ValueError(f"on_device.models: no handed model named {unknown}; handed: {sorted(chosen)}")
        chosen = {name: chosen[name] for name in models}
    return cost_table(chosen, latency)
