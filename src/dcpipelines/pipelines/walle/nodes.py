"""Thin nodes of the walle pipeline; the work is done in ``dcpipelines.core.devices``.

torch, MNN and onnxruntime are imported inside the functions, so that Kedro's start-up
(which imports every pipeline) stays light.
"""

from __future__ import annotations

import tempfile
from typing import Any

import numpy as np
import pandas as pd

REFERENCE_MODEL = "digits_cnn"


def train_edge_model(digits: pd.DataFrame, seed: int, params: dict[str, Any]):
    """Train the reference edge model (DigitsCNN) on the digits table; also its loss per epoch."""
    from dcpipelines.core.nn.edge_models import train_digits_cnn
    from dcpipelines.core.reporting import loss_history

    model, accuracy, losses = train_digits_cnn(
        digits, epochs=params["epochs"], seed=seed, test_fraction=params["test_fraction"],
        lr=params["lr"],
    )
    return model, accuracy, loss_history(train_loss=losses)


def export_edge_model(model, digits: pd.DataFrame, params: dict[str, Any]):
    """torch -> ONNX -> MNN, with MNN's output checked against torch on real digits."""
    from dcpipelines.core.devices.mnn_runtime import export_in_memory
    from dcpipelines.core.nn.edge_models import digits_tensors

    images, _ = digits_tensors(digits)
    checks = images[: params["check_samples"]]
    return export_in_memory(model, images[:1], REFERENCE_MODEL, check_inputs=checks[:, None])


def real_example_inputs(digits: pd.DataFrame, images) -> dict[str, Any]:
    """Batch-1 inputs the reference edge models see on a device: a digit, a CIFAR-10 test image
    (scaled to [0, 1], channels first)."""
    import torch

    from dcpipelines.core.nn.edge_models import digits_tensors

    digit = digits_tensors(digits)[0][:1]
    test = images.subset("test")
    image = torch.from_numpy(test.images[:1].astype(np.float32) / 255.0).permute(0, 3, 1, 2)
    return {"digits_cnn": digit, "digits_mlp": digit, "image_cnn32": image.contiguous()}


def hand_device_models(edge_model, accuracy: float, digits: pd.DataFrame,
                       images) -> dict[str, dict[str, Any]]:
    """walle's edge models for on_device: the trained reference model with its test accuracy,
    the others with seeded weights (marked untrained), each with a real example input."""
    from dcpipelines.core.devices.models import hand_off
    from dcpipelines.core.nn.edge_models import reference_edge_models

    return hand_off("walle", reference_edge_models(
        digits_cnn=edge_model, examples=real_example_inputs(digits, images), accuracy=accuracy))


def model_files(export) -> tuple[bytes, bytes]:
    """The exported model as the files a device release ships: ONNX and MNN bytes."""
    return export.onnx, export.mnn


def compare_runtimes(model, export, digits: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """Batch-1 latency of torch eager, onnxruntime and MNN, interleaved, one thread each, on a
    real digit."""
    from dcpipelines.core.devices.runtimes import compare_latency
    from dcpipelines.core.nn.edge_models import digits_tensors

    example = digits_tensors(digits)[0][:1]
    with tempfile.TemporaryDirectory(prefix="walle-") as scratch:
        onnx_path, mnn_path = export.write(scratch)
        latency = compare_latency(model, example, onnx_path, mnn_path, rounds=params["rounds"],
                                  repeats=params["repeats"], warmup=params["warmup"])
    return pd.DataFrame([{"runtime": name, **values} for name, values in latency.items()])


def run_concurrent_tasks(export, seed: int, params: dict[str, Any]) -> pd.DataFrame:
    """Several tasks on the device, each with its own MNN interpreter: one by one, in threads,
    in worker processes and with multi-threaded MNN sessions (see ``task_runner``).

    Runs once per model in ``params["models"]`` (walle's reference edge models; the trained
    reference model is used for ``digits_cnn``)."""
    from dcpipelines.core.devices.mnn_runtime import export_in_memory
    from dcpipelines.core.devices.task_runner import DeviceTask, compare_concurrency
    from dcpipelines.core.nn.edge_models import reference_edge_models

    rng = np.random.default_rng(seed)
    models = reference_edge_models()
    unknown = sorted(set(params["models"]) - set(models))
    if unknown:
        raise ValueError(f"walle.concurrency.models: unknown models {unknown}; known: {sorted(models)}")
    if not {"sequential", "threads"} <= set(params["modes"]):
        raise ValueError("walle.concurrency.modes must include sequential (the baseline) and "
                         f"threads; got {params['modes']}")
    tables = []
    for name in params["models"]:
        entry = models[name]
        exported = export if name == REFERENCE_MODEL else export_in_memory(
            entry["module"], entry["example_input"], name)
        shape = (params["requests_per_task"], *entry["example_input"].shape[1:])
        with tempfile.TemporaryDirectory(prefix="walle-") as scratch:
            _, mnn_path = exported.write(scratch)
            tasks = [DeviceTask(f"{name}_task_{i}", mnn_path,
                                rng.random(shape, dtype=np.float32))
                     for i in range(params["tasks"])]
            table, _ = compare_concurrency(tasks, params["workers"], tuple(params["modes"]),
                                           params["repeats"])
        table.insert(0, "model", name)
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


def _release_setup(params: dict[str, Any]):
    """Connectivity, cloud and the headline policy from the ``deployment`` parameters."""
    from dcpipelines.core.devices.deployment import CloudConfig, Connectivity

    return (Connectivity(**params["connectivity"]), CloudConfig(**params["cloud"]),
            _policy(params["policy"]))


def _policy(spec: dict[str, Any]):
    from dcpipelines.core.devices.deployment import Policy

    return Policy(**{k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()})


def simulate_deployment(seed: int, params: dict[str, Any]) -> pd.DataFrame:
    """Release the task with each strategy to fleets of growing size, once per run seed
    (``once_fleet_sizes`` only for the first seed)."""
    from dcpipelines.core.devices.deployment import compare_strategies
    from dcpipelines.core.seeds import seed_list

    connectivity, cloud, policy = _release_setup(params)
    tables = []
    for index, run_seed in enumerate(seed_list(seed, params["seeds"])):
        sizes = list(params["fleet_sizes"]) + (list(params["once_fleet_sizes"]) if index == 0 else [])
        table = compare_strategies(sizes, policy, connectivity, cloud, run_seed, params["sample_cap"])
        table.insert(0, "seed", run_seed)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def sweep_release(seed: int, params: dict[str, Any]) -> pd.DataFrame:
    """Each strategy re-run with one capacity or delay changed, at the claims' fleet size
    unless a sweep names its own ``fleet_size``."""
    from dcpipelines.core.devices.deployment import sweep
    from dcpipelines.core.seeds import derive_seed

    connectivity, cloud, policy = _release_setup(params)
    run_seed = derive_seed(seed, "walle.release_sweeps")
    return pd.concat([
        sweep(s.get("fleet_size", params["claim_fleet_size"]), s["strategy"], s["parameter"],
              s["values"], policy,
              connectivity, cloud, run_seed, params["sweep_sample_cap"])
        for s in params["sweeps"]
    ], ignore_index=True)


def validate_release_model(seed: int, params: dict[str, Any]) -> pd.DataFrame:
    """The vectorised model against the SimPy one, request by request, on a small fleet whose
    cloud is scaled down so that it is loaded like the claims' fleet."""
    from dataclasses import replace

    from dcpipelines.core.devices.deployment import STRATEGIES, simulate_release
    from dcpipelines.core.devices.release_des import simulate_release_simpy
    from dcpipelines.core.seeds import derive_seed

    connectivity, cloud, policy = _release_setup(params)
    spec = params["validation"]
    small = replace(cloud.scaled(spec["fleet_size"] / params["claim_fleet_size"], spec["servers"]),
                    horizon_s=spec["horizon_s"])
    run_seed = derive_seed(seed, "walle.release_validation")
    rows = []
    for strategy in STRATEGIES:
        for model, simulate in (("vectorised", simulate_release), ("simpy", simulate_release_simpy)):
            result = simulate(spec["fleet_size"], policy, connectivity, small, strategy, run_seed)
            rows.append({"strategy": strategy, "model": model,
                         **result.summary(small.utilisation_window_s)})
    return pd.DataFrame(rows)


def plan_releases(seed: int, params: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Multi-granularity policies compared; a gray release of a healthy and a faulty task."""
    from dcpipelines.core.devices.release_plans import GrayPlan, compare_policies, gray_release
    from dcpipelines.core.seeds import derive_seed

    connectivity, cloud, _ = _release_setup(params)
    run_seed = derive_seed(seed, "walle.release_plans")
    gray = params["gray_release"]
    policies = {name: _policy(spec) for name, spec in params["policies"].items()}
    policy_table = compare_policies(gray["fleet_size"], policies, connectivity, cloud,
                                    gray["strategy"], run_seed, params["sweep_sample_cap"])
    plan = GrayPlan(tuple(gray["stages"]), gray["stage_duration_s"], gray["failure_threshold"],
                    gray["min_reports"])
    runs = []
    for task in ("healthy", "faulty"):
        stages = gray_release(gray["fleet_size"], _policy({}), connectivity, cloud, plan,
                              gray["task_failure"][task], gray["strategy"], run_seed,
                              params["sweep_sample_cap"])
        stages.insert(0, "task", task)
        runs.append(stages)
    return policy_table, pd.concat(runs, ignore_index=True)


def collect_deployment(strategies: pd.DataFrame, sweeps: pd.DataFrame, validation: pd.DataFrame,
                       policies: pd.DataFrame, gray: pd.DataFrame,
                       params: dict[str, Any]) -> dict[str, Any]:
    """The release figures in one bundle for the report, with the thresholds claims use."""
    return {"strategies": strategies, "sweeps": sweeps, "validation": validation,
            "policies": policies, "gray": gray, "claim_fleet_size": params["claim_fleet_size"],
            "thresholds": dict(params["thresholds"]),
            "task_failure": params["gray_release"]["task_failure"]}
