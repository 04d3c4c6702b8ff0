"""The cost of a device-side model on every device profile.

Measured on this host: FLOPs (torch's flop counter), parameters, MNN file size, MNN session
memory and batch-1 latency under torch, onnxruntime and MNN. Estimated per profile
(:mod:`profiles`): latency, energy and peak memory per inference, and the time to download the
model and to upload one inference's output.
"""

from __future__ import annotations

import tempfile
from typing import Any

import pandas as pd
import torch
from torch.utils.flop_counter import FlopCounterMode

from dcpipelines.core.devices.mnn_runtime import MnnModel, export_in_memory
from dcpipelines.core.devices.models import DeviceModel
from dcpipelines.core.devices.profiles import PROFILES, DeviceProfile
from dcpipelines.core.devices.runtimes import compare_latency


def count_flops(model: torch.nn.Module, example_input: torch.Tensor) -> int:
    """FLOPs of one forward pass (a multiply-add counts 2), as torch's flop counter sees them."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(example_input)
    return int(counter.get_total_flops())


def measure_model(entry: DeviceModel, latency: dict[str, int]) -> dict[str, float]:
    """Host measurements of one handed model."""
    model = entry.module.eval()
    example = entry.example_input
    export = export_in_memory(model, example, entry.name)
    params = sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        output = model(example)
    with tempfile.TemporaryDirectory(prefix="device-costs-") as scratch:
        onnx_path, mnn_path = export.write(scratch)
        session_mb = MnnModel(mnn_path).memory_mb
        host = compare_latency(model, example, onnx_path, mnn_path, **latency)
    return {
        "model": entry.name,
        "flops": count_flops(model, example),
        "params": params,
        "param_bytes": 4 * params,
        "io_bytes": example.element_size() * example.numel() + 4 * output.numel(),
        "output_bytes": 4 * output.numel(),
        "mnn_bytes": len(export.mnn),
        "mnn_max_abs_err": export.max_abs_err,
        "mnn_session_mb": session_mb,
        **{f"host_{runtime}_ms": values["median_ms"] for runtime, values in host.items()},
    }


def estimate_profile_costs(measured: dict[str, Any], profile: DeviceProfile) -> dict[str, Any]:
    """Per-profile estimates for one measured model."""
    estimate = profile.estimate(
        flops=measured["flops"],
        bytes_touched=measured["param_bytes"] + measured["io_bytes"],
        memory_mb=measured["mnn_session_mb"],
    )
    return {
        "model": measured["model"],
        "profile": profile.name,
        **estimate,
        "model_download_s": profile.transfer_s(measured["mnn_bytes"], "down"),
        "output_upload_ms": profile.transfer_s(measured["output_bytes"], "up") * 1e3,
    }


def cost_table(
    models: dict[str, DeviceModel],
    latency: dict[str, int],
    profiles: dict[str, DeviceProfile] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(host measurements per model, estimates per model and profile)."""
    measured = [measure_model(entry, latency) for entry in models.values()]
    estimates = [estimate_profile_costs(m, p) for m in measured for p in (profiles or PROFILES).values()]
    return pd.DataFrame(measured), pd.DataFrame(estimates)


__all__ = ["cost_table", "count_flops", "estimate_profile_costs", "measure_model"]
