"""The on_device report: metrics, claims, plots and tables (the wiring lives in nodes.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dcpipelines.core.plotting import new_figure
from dcpipelines.core.reporting import Claim, Report

MAPE_GOAL_PCT = 25.0  # host cost-model error on held-out models
MNN_VS_TORCH_GOAL = 0.5
MNN_VS_ONNXRUNTIME_GOAL = 1.2


def report_on_device(measured: pd.DataFrame, costs: pd.DataFrame,
                     calibration: pd.DataFrame, cost_model: dict[str, float]) -> Report:
    """Accuracy and cost per model and profile in one table (CSV and markdown), the cost
    model's calibration on this host, plots and the profiles' sources."""
    from dcpipelines.core.devices.profiles import profile_table

    metrics = _model_metrics(measured)
    metrics.update(_calibration_metrics(calibration))
    metrics.update(_cost_model_metrics(cost_model))
    metrics["profiles"] = costs["profile"].nunique()
    table = measured[["model", "trained", *_quality_columns(measured), "flops", "params",
                      "mnn_bytes"]].merge(costs, on="model")
    tables = {"device_costs": table, "host_measurements": measured,
              "cost_calibration": calibration, "device_profiles": profile_table()}
    figures = {"estimated_latency": _latency_plot(costs),
               "cost_model_calibration": _calibration_plot(calibration)}
    return Report("on_device", "On-device cost model: every handed device model on four profiles",
                  metrics, _claims(measured, metrics), figures, tables, _NOTES)


def _quality_columns(measured: pd.DataFrame) -> list[str]:
    return [c for c in measured.columns if c.startswith("quality_")]


def _model_metrics(measured: pd.DataFrame) -> dict[str, float]:
    metrics: dict[str, float] = {"models_profiled": len(measured),
                                 "num_models_costed": len(measured),
                                 "num_models_trained": int(measured["trained"].sum())}
    quality = _quality_columns(measured)
    for row in measured.to_dict("records"):
        name = row["model"]
        metrics[f"{name}_flops"] = int(row["flops"])
        metrics[f"{name}_params"] = int(row["params"])
        metrics[f"{name}_mnn_bytes"] = int(row["mnn_bytes"])
        metrics[f"{name}_mnn_max_abs_err"] = float(row["mnn_max_abs_err"])
        metrics[f"{name}_host_mnn_latency_ms"] = float(row["host_mnn_ms"])
        metrics[f"{name}_host_torch_latency_ms"] = float(row["host_torch_ms"])
        metrics[f"{name}_host_onnxruntime_latency_ms"] = float(row["host_onnxruntime_ms"])
        metrics[f"{name}_mnn_vs_onnxruntime"] = float(row["host_mnn_ms"] / row["host_onnxruntime_ms"])
        metrics[f"{name}_mnn_vs_torch"] = float(row["host_mnn_ms"] / row["host_torch_ms"])
        metrics.update({f"{name}_{column[len('quality_'):]}": float(row[column])
                        for column in quality if pd.notna(row[column])})
    return metrics


def _calibration_metrics(calibration: pd.DataFrame) -> dict[str, float]:
    from dcpipelines.core.devices.calibration import mape_pct

    handed = calibration[calibration["role"] == "handed"]
    return {
        "cost_model_host_mape_pct": mape_pct(calibration["measured_ms"], calibration["held_out_ms"]),
        "cost_model_host_mape_pct_handed": mape_pct(handed["measured_ms"], handed["held_out_ms"]),
        "cost_model_host_fit_mape_pct": mape_pct(calibration["measured_ms"], calibration["fitted_ms"]),
        "cost_model_models_calibrated": len(calibration),
    }


def _cost_model_metrics(cost_model: dict[str, float]) -> dict[str, float]:
    """The fitted figures under names that mark them as machine-dependent."""
    metrics = {"cost_model_overhead_ms": cost_model["overhead_ms"],
               "cost_model_per_op_ms": cost_model["per_op_ms"]}
    for key, value in cost_model.items():
        if key.startswith("efficiency_"):
            metrics[f"cost_model_{key[len('efficiency_'):]}_efficiency_calibrated"] = value
    return metrics


def _claims(measured: pd.DataFrame, metrics: dict[str, float]) -> list[Claim]:
    worst = float(measured["mnn_max_abs_err"].max())
    ratios = measured.set_index("model")
    vs_ort = ratios["host_mnn_ms"] / ratios["host_onnxruntime_ms"]
    vs_torch = ratios["host_mnn_ms"] / ratios["host_torch_ms"]
    fastest = ratios[["host_torch_ms", "host_onnxruntime_ms", "host_mnn_ms"]].idxmin(axis=1)
    wins = int((fastest == "host_mnn_ms").sum())
    mape = metrics["cost_model_host_mape_pct"]
    return [
        Claim("Every device-side model exports to MNN and runs with torch's numbers",
              f"{len(measured)} models, worst max abs error {worst:.2e}", worst <= 1e-4),
        Claim("MNN is the fastest runtime for on-device models (Walle's compute container)",
              f"MNN fastest on this host for {wins} of {len(measured)} models "
              "(batch 1, one thread, vs torch eager and onnxruntime)",
              wins == len(measured)),
        Claim(f"MNN at most {MNN_VS_TORCH_GOAL}x torch eager and at most "
              f"{MNN_VS_ONNXRUNTIME_GOAL}x onnxruntime on every model (median latency, one thread)",
              f"worst MNN/torch {vs_torch.max():.2f} ({vs_torch.idxmax()}), worst "
              f"MNN/onnxruntime {vs_ort.max():.2f} ({vs_ort.idxmax()})",
              bool(vs_torch.max() <= MNN_VS_TORCH_GOAL and vs_ort.max() <= MNN_VS_ONNXRUNTIME_GOAL)),
        Claim(f"The calibrated cost model predicts host latency of held-out models within "
              f"{MAPE_GOAL_PCT:.0f}% (MAPE, leave one out)",
              f"{mape:.1f}% over {metrics['cost_model_models_calibrated']} models "
              f"({metrics['cost_model_host_mape_pct_handed']:.1f}% over the handed ones)",
              mape < MAPE_GOAL_PCT),
    ]


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


def _calibration_plot(calibration: pd.DataFrame) -> Figure:
    figure, axis = new_figure(width=4.5, height=4)
    for role, rows in calibration.groupby("role"):
        axis.scatter(rows["measured_ms"], rows["held_out_ms"], label=role, s=18)
    low, high = calibration[["measured_ms", "held_out_ms"]].min().min(), \
        calibration[["measured_ms", "held_out_ms"]].max().max()
    axis.plot([low, high], [low, high], color="grey", linewidth=0.8)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("measured MNN latency on this host (ms)")
    axis.set_ylabel("predicted, model held out (ms)")
    axis.legend(fontsize=8)
    return figure


_NOTES = """
FLOPs come from torch's flop counter (a multiply-add counts 2; embedding look-ups count 0),
MNN file size and session memory from the exported model, host latency from interleaved
batch-1 runs with one thread on this shared 2-core x86_64 CPU, on each model's example input
(real data where the handing pipeline gives it). The cost model is calibrated on the MNN
latencies of every costed model plus registered calibration variants (`cost_calibration`):
fixed overhead, per-operator dispatch cost and per-family efficiency (convolutions, matrix
products) of one core's peak, fitted by least relative error; its error is measured on each
model left out of the fit. The per-profile latency and energy carry the calibrated figures to
the boards (efficiency as a ratio of the board's per-core peak, overheads scaled by the CPU
clock): they are estimates, not measurements (`latency_basis`). `device_profiles` says for each
figure whether the vendor documents it or we estimate it. Transfer times have no round-trip
latency term. Every model a pipeline hands over as `<pipeline>.device_models` is costed, with
its held-out quality where the pipeline gives one (`trained`, `quality_*`); walle's reference
models with seeded weights stand in only for those no pipeline has handed over.
"""
