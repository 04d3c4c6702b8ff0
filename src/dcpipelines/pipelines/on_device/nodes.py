"""Thin nodes of the on_device pipeline; the cost model lives in ``dcpipelines.core.devices``."""

from __future__ import annotations

from typing import Any


def with_seeded_fallbacks(handed: dict[str, Any]) -> dict[str, Any]:
    """The handed models, plus walle's registered reference edge models with seeded weights
    (marked untrained) for every one that no pipeline has handed over trained."""
    from dcpipelines.core.devices.models import hand_off
    from dcpipelines.core.nn.edge_models import reference_edge_models

    registered = hand_off("walle", reference_edge_models())
    return {**{name: entry for name, entry in registered.items() if name not in handed}, **handed}


def calibration_variants(names: list[str] | str) -> dict[str, Any]:
    """The registered calibration variants (``all`` or a list of names), named ``calibration_*``."""
    from dcpipelines.core.devices.models import device_models as checked
    from dcpipelines.core.nn.edge_models import calibration_models

    variants = calibration_models()
    if names != "all":
        unknown = sorted(set(names) - set(variants))
        if unknown:
            raise ValueError(f"on_device.calibration_variants: unknown {unknown}; known: {sorted(variants)}")
        variants = {name: variants[name] for name in names}
    return checked({f"calibration_{name}": entry for name, entry in variants.items()})


def measure_device_models(device_models: dict[str, Any], models: list[str] | str,
                          variants: list[str] | str, latency: dict[str, int],
                          *handed_in_this_run: Any):
    """Host measurements, the cost model calibrated on them and per-profile estimates for every
    model the pipelines handed over (or the chosen names); seeded weights stand in only for a
    registered model no pipeline has handed. ``handed_in_this_run`` is only there to order a
    full run: models are measured after every pipeline has handed its own."""
    from dcpipelines.core.devices.costs import calibrated_cost_tables
    from dcpipelines.core.devices.models import device_models as checked

    chosen = checked(with_seeded_fallbacks(dict(device_models)))
    if models != "all":
        unknown = sorted(set(models) - set(chosen))
        if unknown:
            raise ValueError(f"on_device.models: no handed model named {unknown}; handed: {sorted(chosen)}")
        chosen = {name: chosen[name] for name in models}
    tables = calibrated_cost_tables(chosen, calibration_variants(variants), latency)
    return tables["measurements"], tables["costs"], tables["calibration"], tables["model"]
