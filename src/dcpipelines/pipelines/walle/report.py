"""The walle report: metrics, claims, plots and tables (the wiring lives in nodes.py)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from dcpipelines.core.plotting import new_figure
from dcpipelines.core.reporting import Claim, Report
from dcpipelines.pipelines.walle.nodes import REFERENCE_MODEL
from dcpipelines.pipelines.walle.report_release import (
    deployment_plot,
    release_claims,
    release_metrics,
    release_notes,
    release_tables,
    sweep_plot,
)


def report_walle(
    accuracy: float,
    export,
    latency: pd.DataFrame,
    concurrency: pd.DataFrame,
    features: pd.DataFrame,
    throughput: dict[str, float],
    deployment: dict,
    loss: pd.DataFrame,
) -> Report:
    """metrics.json, claims, plots and tables of the walle run."""
    median = latency.set_index("runtime")["median_ms"]
    speedups = concurrency_speedups(concurrency)
    first_model = concurrency["model"].iloc[0]
    speedup = float(speedups.loc[first_model, "threads"].median())
    metrics: dict[str, float] = {
        "mnn_latency_ms": float(median["mnn"]),
        "torch_latency_ms": float(median["torch"]),
        "onnxruntime_latency_ms": float(median["onnxruntime"]),
        "mnn_max_abs_err": float(export.max_abs_err),
        "mnn_model_bytes": len(export.mnn),
        "edge_model_accuracy": float(accuracy),
        "concurrent_speedup": speedup,
        **_speedup_metrics(speedups, first_model),
        "stream_events_per_s": float(throughput["events_per_s"]),
        "stream_feature_rows": len(features),
        **release_metrics(deployment),
    }
    ratio = metrics["mnn_latency_ms"] / metrics["torch_latency_ms"]
    claims = [
        Claim("MNN runs the exported model with the same numbers as torch (<= 1e-4, float32)",
              f"max abs error {export.max_abs_err:.2e}", export.max_abs_err <= 1e-4),
        Claim("MNN is faster than other mobile runtimes (goal here: <= 0.5x torch eager, batch 1)",
              f"{REFERENCE_MODEL}: MNN {median['mnn']:.3f} ms, torch {median['torch']:.3f} ms "
              f"({ratio:.2f}x), onnxruntime {median['onnxruntime']:.3f} ms", ratio <= 0.5),
        *_concurrency_claims(speedups, first_model, concurrency),
        *release_claims(deployment),
    ]
    tables = {"runtime_latency": latency, "concurrency": concurrency,
              "concurrency_speedups": speedups.reset_index(),
              **release_tables(deployment),
              "stream_features_sample": features.head(20)}
    figures = {"runtime_latency": _latency_plot(latency),
               "deployment": deployment_plot(deployment),
               "release_sweeps": sweep_plot(deployment)}
    notes = _notes(throughput, features) + "\n\n" + release_notes(deployment)
    return Report("walle", "Walle: compute container, stream processing, deployment", metrics,
                  claims, figures, tables, notes, histories={"edge_model_loss": loss})


def concurrency_speedups(concurrency: pd.DataFrame) -> pd.DataFrame:
    """Speed-up of every mode over running the tasks one by one, per model and repeat
    (index: model, repeat; one column per mode)."""
    walls = concurrency.groupby(["model", "repeat", "mode"], sort=False)["wall_s"].first().unstack()
    return walls.drop(columns="sequential").rdiv(walls["sequential"], axis=0)


def _speedup_metrics(speedups: pd.DataFrame, first_model: str) -> dict[str, float]:
    median = speedups.groupby(level="model", sort=False).median()
    metrics = {f"concurrent_speedup_{mode}": float(median.loc[first_model, mode])
               for mode in median.columns}
    for model, row in median.iterrows():
        metrics.update({f"{model}_concurrent_speedup_{mode}": float(v) for mode, v in row.items()})
    return metrics


def _concurrency_claims(speedups: pd.DataFrame, first_model: str,
                        concurrency: pd.DataFrame) -> list[Claim]:
    from dcpipelines.core.claims import at_least

    tasks = concurrency.groupby("model")["task"].nunique().iloc[0]
    first = speedups.loc[first_model]
    median = speedups.groupby(level="model", sort=False).median()
    best = str(median.loc[first_model].idxmax())
    claims = []
    for mode in [m for m in ("threads", "processes") if m in first.columns]:
        claim = at_least(f"{tasks} concurrent tasks in {mode} run faster than one by one "
                         f"({first_model}; Walle's thread-level VM aims for this speed-up)",
                         f"{mode} speed-up", list(first[mode]), 1.0, digits=3)
        others = ", ".join(f"{m}: {median.loc[m, mode]:.2f}x" for m in median.index)
        claims.append(Claim(claim.claim, f"{claim.measured} ({others}; best mode for "
                            f"{first_model}: {best}; shared 2-core machine)", claim.holds))
    return claims


def _latency_plot(latency: pd.DataFrame) -> Figure:
    figure, axis = new_figure(width=5, height=3)
    axis.bar(latency["runtime"], latency["median_ms"], color=["#4c72b0", "#55a868", "#c44e52"])
    axis.set_ylabel("median batch-1 latency (ms)")
    axis.set_title(f"{REFERENCE_MODEL}, one thread")
    return figure


def _notes(throughput: dict[str, float], features: pd.DataFrame) -> str:
    per_task = features.groupby("task").size().to_dict()
    return (
        f"Reference edge model: `{REFERENCE_MODEL}` (two conv layers and a linear head on 8x8 "
        "digits). Latencies are medians of interleaved batch-1 runs on a real digit, one thread per "
        "runtime, on a shared 2-core x86_64 CPU; the paper compared MNN with TFLite and PyTorch Mobile "
        "on phones, which we cannot run here.\n\n"
        f"Stream processing: {throughput['events']} events in one pass, feature rows per task "
        f"{per_task}. Only feature rows leave the device (dataset `walle.uploaded_features`)."
    )
