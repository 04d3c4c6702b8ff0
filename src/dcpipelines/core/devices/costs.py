"""The cost of a device-side model on every device profile.

Measured on this host: FLOPs (torch's flop counter, per operator family), operators, parameters,
MNN file size, MNN session memory and batch-1 latency under torch, onnxruntime and MNN.
Estimated per profile (:mod:`profiles`): latency, energy and peak memory per inference, and the
time to download the model and to upload one inference's output. With a :class:`Calibration`
(:mod:`calibration`, fitted to the MNN latencies measured here) the latency estimate uses the
calibrated efficiencies and overheads; without one, the profile's assumed roofline.
"""

from __future__ import annotations

import tempfile
from typing import Any

import pandas as pd
import torch
from torch.utils.flop_counter import FlopCounterMode

from dcpipelines.core.devices import calibration as calib
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


def measure_model(entry: DeviceModel, latency: dict[str, Any],
                  runtimes: tuple[str, ...] = ("torch", "onnxruntime", "mnn")) -> dict[str, Any]:
    """Host measurements of one handed model (latency under ``runtimes``, on its example input)."""
    model = entry.module.eval()
    example = entry.example_input
    export = export_in_memory(model, example, entry.name)
    params = sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        output = model(example)
    with tempfile.TemporaryDirectory(prefix="device-costs-") as scratch:
        onnx_path, mnn_path = export.write(scratch)
        session_mb = MnnModel(mnn_path).memory_mb
        host = compare_latency(model, example, onnx_path, mnn_path, runtimes=runtimes, **latency)
    family_flops = calib.operator_flops(model, example, calib.host_compute().lanes)
    return {
        "model": entry.name,
        "trained": entry.trained,
        **{f"quality_{metric}": value for metric, value in entry.quality.items()},
        "flops": count_flops(model, example),
        **{f"{family}_flops": flops for family, flops in family_flops.items()},
        "operators": calib.operator_count(export.onnx),
        "params": params,
        "param_bytes": 4 * params,
        "io_bytes": example.element_size() * example.numel() + 4 * output.numel(),
        "output_bytes": 4 * output.numel(),
        "mnn_bytes": len(export.mnn),
        "mnn_max_abs_err": export.max_abs_err,
        "mnn_session_mb": session_mb,
        **{f"host_{runtime}_ms": values["median_ms"] for runtime, values in host.items()},
    }


def estimate_profile_costs(measured: dict[str, Any], profile: DeviceProfile,
                           calibration: calib.Calibration | None = None) -> dict[str, Any]:
    """Per-profile estimates for one measured model; calibrated where ``calibration`` is given
    (see :func:`calibrated_latency_ms`)."""
    bytes_touched = measured["param_bytes"] + measured["io_bytes"]
    estimate = profile.estimate(flops=measured["flops"], bytes_touched=bytes_touched,
                                memory_mb=measured["mnn_session_mb"])
    basis = "assumed roofline (estimated)"
    if calibration is not None:
        latency_ms, basis = calibrated_latency_ms(measured, profile, calibration)
        estimate.update(est_latency_ms=latency_ms, est_energy_mj=profile.active_power_w * latency_ms)
    return {
        "model": measured["model"],
        "profile": profile.name,
        **estimate,
        "latency_basis": basis,
        "model_download_s": profile.transfer_s(measured["mnn_bytes"], "down"),
        "output_upload_ms": profile.transfer_s(measured["output_bytes"], "up") * 1e3,
    }


def calibrated_latency_ms(measured: dict[str, Any], profile: DeviceProfile,
                          calibration: calib.Calibration) -> tuple[float, str]:
    """(latency ms, basis): the host-calibrated dispatch cost scaled by the profile's CPU
    clock, plus the larger of compute time and memory time. A CPU profile computes one thread
    at the calibrated per-family efficiencies of one core's peak; a GPU profile keeps its
    assumed efficiency and launch overhead (a CPU measurement says nothing about a GPU)."""
    flops = {family: float(measured[f"{family}_flops"]) for family in calib.FAMILIES}
    dispatch, compute = calibration.cpu_latency_ms(
        int(measured["operators"]), flops, profile.core_peak_gflops, profile.clock_ghz)
    memory_ms = (measured["param_bytes"] + measured["io_bytes"]) / (profile.memory_bandwidth_gb_s * 1e6)
    if profile.accelerator == "gpu":
        compute = measured["flops"] / (profile.peak_gflops * 1e6 * profile.efficiency)
        return (profile.overhead_ms + dispatch + max(compute, memory_ms),
                "GPU: assumed efficiency, host-calibrated dispatch (estimated)")
    return dispatch + max(compute, memory_ms), "calibrated on this host, carried over (estimated)"


def calibrate(measured: pd.DataFrame, host: calib.HostCompute | None = None
              ) -> tuple[calib.Calibration, pd.DataFrame]:
    """Fit the cost model to the MNN latencies in ``measured``; per model the measured, fitted
    and leave-one-out predicted host latency and the held-out error."""
    host = host or calib.host_compute()
    features = measured.rename(columns={"host_mnn_ms": "measured_ms"}).reset_index(drop=True)
    calibration = calib.fit(features, host)
    table = features[["model", "operators", *(f"{f}_flops" for f in calib.FAMILIES),
                      "measured_ms"]].copy()
    table["fitted_ms"] = calib.predict(calibration, features)
    table["held_out_ms"] = calib.leave_one_out(features, host)
    table["held_out_abs_pct_err"] = 100 * (table["held_out_ms"] / table["measured_ms"] - 1).abs()
    return calibration, table


def cost_table(
    models: dict[str, DeviceModel],
    latency: dict[str, int],
    profiles: dict[str, DeviceProfile] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(host measurements per model, estimates per model and profile)."""
    measured = [measure_model(entry, latency) for entry in models.values()]
    estimates = [estimate_profile_costs(m, p) for m in measured for p in (profiles or PROFILES).values()]
    return pd.DataFrame(measured), pd.DataFrame(estimates)


def calibrated_cost_tables(
    models: dict[str, DeviceModel],
    calibration_models: dict[str, DeviceModel],
    latency: dict[str, Any],
    profiles: dict[str, DeviceProfile] | None = None,
) -> dict[str, Any]:
    """Measure ``models`` under three runtimes and ``calibration_models`` under MNN, calibrate
    the cost model on all of them, estimate every model on every profile with it. Returns the
    tables ``measurements``, ``costs``, ``calibration`` (one row per model, column ``role``:
    handed or calibration variant) and the fitted ``model``'s figures."""
    measured = pd.DataFrame([measure_model(entry, latency) for entry in models.values()])
    variants = pd.DataFrame([measure_model(entry, latency, ("mnn",))
                             for entry in calibration_models.values()])
    both = pd.concat([measured.assign(role="handed"), variants.assign(role="calibration")],
                     ignore_index=True)
    fitted, table = calibrate(both)
    table.insert(1, "role", both["role"])
    estimates = [estimate_profile_costs(m, p, fitted) for m in measured.to_dict("records")
                 for p in (profiles or PROFILES).values()]
    return {"measurements": measured, "costs": pd.DataFrame(estimates), "calibration": table,
            "model": fitted.as_dict()}


__all__ = ["calibrate", "calibrated_cost_tables", "calibrated_latency_ms", "cost_table",
           "count_flops", "estimate_profile_costs", "measure_model"]
