"""The on_device report: metrics, claims, plots and tables (the wiring lives in nodes.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dcpipelines.core.plotting import new_figure
from dcpipelines.core.reporting import Claim, Report


def report_on_device(measured: pd.DataFrame, costs: pd.DataFrame) -> Report:
    """The per-model, per-profile table (CSV and markdown), a plot and the profiles' sources."""
    from dcpipelines.core.devices.profiles import profile_table

    metrics: dict[str, float] = {"models_profiled": len(measured),
                                 "profiles": costs["profile"].nunique()}
    for row in measured.itertuples():
        metrics[f"{row.model}_flops"] = int(row.flops)
        metrics[f"{row.model}_params"] = int(row.params)
        metrics[f"{row.model}_mnn_bytes"] = int(row.mnn_bytes)
        metrics[f"{row.model}_mnn_max_abs_err"] = float(row.mnn_max_abs_err)
        metrics[f"{row.model}_host_mnn_latency_ms"] = float(row.host_mnn_ms)
        metrics[f"{row.model}_host_torch_latency_ms"] = float(row.host_torch_ms)
    worst = float(measured["mnn_max_abs_err"].max())
    fastest = measured.set_index("model")[["host_torch_ms", "host_onnxruntime_ms", "host_mnn_ms"]]
    wins = int((fastest.idxmin(axis=1) == "host_mnn_ms").sum())
    claims = [
        Claim("Every device-side model exports to MNN and runs with torch's numbers",
              f"{len(measured)} models, worst max abs error {worst:.2e}", worst <= 1e-4),
        Claim("MNN is the fastest runtime for on-device models (Walle's compute container)",
              f"MNN fastest on this host for {wins} of {len(measured)} models "
              "(batch 1, one thread, vs torch eager and onnxruntime)",
              wins == len(measured)),
    ]
    table = costs.merge(measured[["model", "flops", "params", "mnn_bytes"]], on="model")
    tables = {"device_costs": table, "host_measurements": measured,
              "device_profiles": profile_table()}
    return Report("on_device", "On-device cost model: every handed device model on four profiles",
                  metrics, claims, {"estimated_latency": _latency_plot(costs)}, tables,
                  _NOTES)


def _latency_plot(costs: pd.DataFrame) -> Figure:
    pivot = costs.pivot(index="model", columns="profile", values="est_latency_ms")
    figure, axis = new_figure(width=7, height=3.5)
    width = 0.8 / len(pivot.columns)
    for i, profile in enumerate(pivot.columns):
        axis.bar(np.arange(len(pivot)) + i * width, pivot[profile], width, label=profile)
    axis.set_xticks(np.arange(len(pivot)) + 0.4 - width / 2, pivot.index, rotation=15)
    axis.set_yscale("log")
    axis.set_ylabel("estimated latency per inference (ms)")
    axis.legend(fontsize=8)
    return figure


_NOTES = """
FLOPs come from torch's flop counter (a multiply-add counts 2; embedding look-ups count 0),
MNN file size and session memory from the exported model, host latency from interleaved
batch-1 runs with one thread on this shared 2-core x86_64 CPU. The per-profile latency,
energy and memory are estimates from a roofline model (fixed overhead + max(compute, memory
traffic) at an assumed fraction of peak); `device_profiles` says for each figure whether it is
documented by the vendor or estimated by us. Transfer times have no round-trip latency term.
Every model a pipeline hands over as `<pipeline>.device_models` (see
`dcpipelines.core.devices.models` and docs/building_a_pipeline.md) is measured here; with
nothing handed yet, walle's reference edge models with seeded weights stand in.
"""
