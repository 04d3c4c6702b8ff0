"""Thin nodes of the walle pipeline; the work is done in ``dcpipelines.core.devices``.

torch, MNN and onnxruntime are imported inside the functions, so that Kedro's start-up
(which imports every pipeline) stays light.
"""

from __future__ import annotations

import tempfile
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from dcpipelines.core.reporting import Claim, Report  # noqa: E402

REFERENCE_MODEL = "digits_cnn"


def train_edge_model(digits: pd.DataFrame, seed: int, params: dict[str, Any]):
    """Train the reference edge model (DigitsCNN) on the digits table."""
    from dcpipelines.core.devices.edge_models import train_digits_cnn

    model, accuracy = train_digits_cnn(
        digits, epochs=params["epochs"], seed=seed, test_fraction=params["test_fraction"],
        lr=params["lr"],
    )
    return model, accuracy


def export_edge_model(model, digits: pd.DataFrame, params: dict[str, Any]):
    """torch -> ONNX -> MNN, with MNN's output checked against torch on real digits."""
    from dcpipelines.core.devices.edge_models import digits_tensors
    from dcpipelines.core.devices.mnn_runtime import export_in_memory

    images, _ = digits_tensors(digits)
    checks = images[: params["check_samples"]]
    return export_in_memory(model, images[:1], REFERENCE_MODEL, check_inputs=checks[:, None])


def model_files(export) -> tuple[bytes, bytes]:
    """The exported model as the files a device release ships: ONNX and MNN bytes."""
    return export.onnx, export.mnn


def compare_runtimes(model, export, params: dict[str, Any]) -> pd.DataFrame:
    """Batch-1 latency of torch eager, onnxruntime and MNN, interleaved, one thread each."""
    import torch

    from dcpipelines.core.devices.runtimes import compare_latency

    example = torch.zeros(1, 1, 8, 8)
    with tempfile.TemporaryDirectory(prefix="walle-") as scratch:
        onnx_path, mnn_path = export.write(scratch)
        latency = compare_latency(model, example, onnx_path, mnn_path, rounds=params["rounds"],
                                  repeats=params["repeats"], warmup=params["warmup"])
    return pd.DataFrame([{"runtime": name, **values} for name, values in latency.items()])


def run_concurrent_tasks(export, seed: int, params: dict[str, Any]) -> pd.DataFrame:
    """Several tasks on the device, each with its own MNN interpreter: threads vs one by one.

    Runs once per model in ``params["models"]`` (names in the device-model registry; the
    trained reference model is used for ``digits_cnn``)."""
    from dcpipelines.core.devices.mnn_runtime import export_in_memory
    from dcpipelines.core.devices.registry import get_device_model
    from dcpipelines.core.devices.task_runner import DeviceTask, compare_concurrency

    rng = np.random.default_rng(seed)
    tables = []
    for name in params["models"]:
        entry = get_device_model(name)
        exported = export if name == REFERENCE_MODEL else export_in_memory(
            entry.builder(), entry.example_input, name)
        shape = (params["requests_per_task"], *entry.example_input.shape[1:])
        with tempfile.TemporaryDirectory(prefix="walle-") as scratch:
            _, mnn_path = exported.write(scratch)
            tasks = [DeviceTask(f"{name}_task_{i}", mnn_path,
                                rng.random(shape, dtype=np.float32))
                     for i in range(params["tasks"])]
            table, sequential_s, concurrent_s = compare_concurrency(tasks, params["workers"])
        table.insert(0, "model", name)
        table["wall_s"] = table["mode"].map({"sequential": sequential_s,
                                             "concurrent": concurrent_s})
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def generate_device_events(seed: int, params: dict[str, Any]) -> pd.DataFrame:
    """The raw behaviour events of the simulated users (they stay on the device side)."""
    from dcpipelines.core.devices.stream import generate_events

    g = params["generator"]
    return generate_events(g["users"], g["sessions_per_user"], g["items"], seed=seed,
                           popularity_exponent=g["popularity_exponent"],
                           click_rate=g["click_rate"])


def _stream_tasks(params: dict[str, Any]):
    from dcpipelines.core.devices.stream import StreamTask, Window

    return [
        StreamTask(t["name"], tuple(t["trigger"]), Window(t["window"], float(t.get("size", 0))))
        for t in params["tasks"]
    ]


def extract_stream_features(events: pd.DataFrame, params: dict[str, Any]):
    """Events -> feature rows on the device; only the features are uploaded."""
    from dcpipelines.core.devices.stream import (
        StreamProcessor,
        measure_throughput,
        validate_events,
    )

    processor = StreamProcessor(_stream_tasks(params))
    events = validate_events(events, "walle.device_events")
    rates = []
    for _ in range(params["throughput_repeats"]):
        rates.append(measure_throughput(processor, events)[0])
    features = processor.process(events)
    return features, {"events": len(events), "events_per_s": float(np.median(rates))}


def simulate_deployment(seed: int, params: dict[str, Any]) -> pd.DataFrame:
    """Release the task with each strategy to fleets of growing size."""
    from dcpipelines.core.devices.deployment import (
        Policy,
        ReleaseConfig,
        compare_strategies,
        make_fleet,
    )

    policy = Policy(**{k: tuple(v) if isinstance(v, list) else v
                       for k, v in params["policy"].items()})
    release = dict(params["release"])
    release["stages"] = tuple(release["stages"])
    config = ReleaseConfig(**release)
    tables = []
    for size in params["fleet_sizes"]:
        fleet = make_fleet(size, seed, online_fraction=params["online_fraction"],
                           mean_offline_s=params["mean_offline_s"],
                           poll_interval_s=config.poll_interval_s)
        table, _ = compare_strategies(fleet, policy, config, seed)
        table.insert(0, "fleet_size", size)
        table.insert(1, "eligible", int(policy.eligible(fleet).sum()))
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def report_walle(
    accuracy: float,
    export,
    latency: pd.DataFrame,
    concurrency: pd.DataFrame,
    features: pd.DataFrame,
    throughput: dict[str, float],
    deployment: pd.DataFrame,
) -> Report:
    """metrics.json, claims, plots and tables of the walle run."""
    median = latency.set_index("runtime")["median_ms"]
    walls = concurrency.groupby(["model", "mode"], sort=False)["wall_s"].first().unstack()
    speedups = walls["sequential"] / walls["concurrent"]
    first_model = concurrency["model"].iloc[0]
    speedup = float(speedups[first_model])
    largest = deployment[deployment["fleet_size"] == deployment["fleet_size"].max()]
    largest = largest.set_index("strategy")
    metrics: dict[str, float] = {
        "mnn_latency_ms": float(median["mnn"]),
        "torch_latency_ms": float(median["torch"]),
        "onnxruntime_latency_ms": float(median["onnxruntime"]),
        "mnn_max_abs_err": float(export.max_abs_err),
        "mnn_model_bytes": len(export.mnn),
        "edge_model_accuracy": float(accuracy),
        "concurrent_speedup": speedup,
        **{f"{m}_concurrent_speedup": float(v) for m, v in speedups.items()},
        "stream_events_per_s": float(throughput["events_per_s"]),
        "stream_feature_rows": len(features),
        "fleet_size": int(largest["fleet_size"].iloc[0]),
    }
    for strategy, row in largest.iterrows():
        metrics[f"{strategy}_p50_delivery_s"] = float(row["p50_delivery_s"])
        metrics[f"{strategy}_p99_delivery_s"] = float(row["p99_delivery_s"])
        metrics[f"{strategy}_peak_requests_per_s"] = float(row["peak_requests_per_s"])
        metrics[f"{strategy}_bytes_moved"] = float(row["bytes_moved"])
        metrics[f"{strategy}_push_channel_bytes"] = float(row["push_channel_bytes"])
    ratio = metrics["mnn_latency_ms"] / metrics["torch_latency_ms"]
    claims = [
        Claim("MNN runs the exported model with the same numbers as torch (<= 1e-4, float32)",
              f"max abs error {export.max_abs_err:.2e}", export.max_abs_err <= 1e-4),
        Claim("MNN is faster than other mobile runtimes (goal here: <= 0.5x torch eager, batch 1)",
              f"{REFERENCE_MODEL}: MNN {median['mnn']:.3f} ms, torch {median['torch']:.3f} ms "
              f"({ratio:.2f}x), onnxruntime {median['onnxruntime']:.3f} ms", ratio <= 0.5),
        Claim("Tasks run concurrently in threads beat running them one after another",
              ", ".join(f"{m}: {v:.2f}x" for m, v in speedups.items())
              + f" ({concurrency.groupby('model')['task'].nunique().iloc[0]} tasks, shared "
              "2-core machine; threads help only when native inference outweighs the Python "
              "glue that holds the GIL)", speedup > 1.0),
        Claim("Push-then-pull delivers faster than pull and sends far fewer bytes over the "
              "push channel than push",
              _deployment_claim(largest), _push_then_pull_holds(largest)),
    ]
    tables = {"runtime_latency": latency, "concurrency": concurrency,
              "deployment": deployment,
              "stream_features_sample": features.head(20)}
    figures = {"runtime_latency": _latency_plot(latency),
               "deployment": _deployment_plot(deployment)}
    notes = _notes(throughput, features)
    return Report("walle", "Walle: compute container, stream processing, deployment", metrics,
                  claims, figures, tables, notes)


def _deployment_claim(largest: pd.DataFrame) -> str:
    return ", ".join(
        f"{s}: p50 {r.p50_delivery_s:.0f} s, p99 {r.p99_delivery_s:.0f} s, "
        f"peak {r.peak_requests_per_s:.0f} req/s" for s, r in largest.iterrows()
    ) + " (simulated; see the model's assumptions)"


def _push_then_pull_holds(largest: pd.DataFrame) -> bool:
    ptp, pull = largest.loc["push_then_pull"], largest.loc["pull"]
    push = largest.loc["push"]
    return bool(ptp.p50_delivery_s < pull.p50_delivery_s
                and ptp.push_channel_bytes * 100 < push.push_channel_bytes)


def _latency_plot(latency: pd.DataFrame) -> plt.Figure:
    figure, axis = plt.subplots(figsize=(5, 3))
    axis.bar(latency["runtime"], latency["median_ms"], color=["#4c72b0", "#55a868", "#c44e52"])
    axis.set_ylabel("median batch-1 latency (ms)")
    axis.set_title(f"{REFERENCE_MODEL}, one thread")
    figure.tight_layout()
    return figure


def _deployment_plot(deployment: pd.DataFrame) -> plt.Figure:
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for strategy, rows in deployment.groupby("strategy"):
        axes[0].plot(rows["fleet_size"], rows["p99_delivery_s"] / 3600, marker="o", label=strategy)
        axes[1].plot(rows["fleet_size"], rows["peak_requests_per_s"], marker="o", label=strategy)
    for axis, label in zip(axes, ["p99 delivery lag (h)", "peak requests/s"], strict=True):
        axis.set_xscale("log")
        axis.set_xlabel("fleet size")
        axis.set_ylabel(label)
    axes[1].set_yscale("log")
    axes[0].legend()
    figure.tight_layout()
    return figure


def _notes(throughput: dict[str, float], features: pd.DataFrame) -> str:
    per_task = features.groupby("task").size().to_dict()
    return (
        f"Reference edge model: `{REFERENCE_MODEL}` (two conv layers and a linear head on 8x8 "
        "digits). Latencies are medians of interleaved batch-1 runs with one thread per runtime "
        "on a shared 2-core x86_64 CPU; the paper compared MNN with TFLite and PyTorch Mobile "
        "on phones, which we cannot run here.\n\n"
        f"Stream processing: {throughput['events']} events in one pass, feature rows per task "
        f"{per_task}. Only feature rows leave the device (dataset `walle.uploaded_features`).\n\n"
        "Deployment figures come from a simulation whose bandwidths, rates and connectivity are "
        "assumptions (parameters_walle.yml); requests count push-gateway messages, polls and "
        "bundle downloads alike. Delivery lag is measured from the release of a device's stage."
    )
