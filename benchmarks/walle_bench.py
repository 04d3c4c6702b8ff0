"""Benchmarks of the walle pieces on this machine: batch-1 latency of walle's reference edge
model under torch eager, onnxruntime and MNN; concurrent vs sequential MNN tasks; stream
processing events/s on one core; wall time of the 1,000,000-device release simulation.

    .venv/bin/python benchmarks/walle_bench.py
"""

from __future__ import annotations

import platform
import tempfile
import time

import numpy as np

from dcpipelines.core.devices.deployment import (
    Policy,
    ReleaseConfig,
    compare_release_strategies,
    make_fleet,
)
from dcpipelines.core.devices.mnn_runtime import export_in_memory
from dcpipelines.core.devices.runtimes import compare_latency
from dcpipelines.core.devices.stream import (
    StreamProcessor,
    StreamTask,
    Window,
    generate_events,
    measure_throughput,
)
from dcpipelines.core.devices.task_runner import DeviceTask, compare_concurrency
from dcpipelines.core.nn.edge_models import reference_edge_models


def latency() -> None:
    print("| model | torch eager ms | onnxruntime ms | MNN ms | MNN / torch |")
    print("| --- | --- | --- | --- | --- |")
    for name, entry in reference_edge_models().items():
        model = entry["module"]
        export = export_in_memory(model, entry["example_input"], name)
        with tempfile.TemporaryDirectory() as scratch:
            onnx_path, mnn_path = export.write(scratch)
            result = compare_latency(model, entry["example_input"], onnx_path, mnn_path,
                                     rounds=20, repeats=100)
        t, o, m = (result[k]["median_ms"] for k in ("torch", "onnxruntime", "mnn"))
        print(f"| {name} | {t:.4f} | {o:.4f} | {m:.4f} | {m / t:.2f} |")


def concurrency() -> None:
    rng = np.random.default_rng(0)
    for name in ("image_cnn32", "digits_cnn"):
        entry = reference_edge_models()[name]
        export = export_in_memory(entry["module"], entry["example_input"], name)
        with tempfile.TemporaryDirectory() as scratch:
            _, path = export.write(scratch)
            shape = (1000, *entry["example_input"].shape[1:])
            for workers in (2, 4):
                tasks = [DeviceTask(f"t{i}", path, rng.random(shape, dtype=np.float32))
                         for i in range(4)]
                _, seq, conc = compare_concurrency(tasks, workers)
                print(f"{name}: 4 tasks x 1000 requests, {workers} threads: sequential "
                      f"{seq:.3f} s, concurrent {conc:.3f} s, speed-up {seq / conc:.2f}x")


def stream() -> None:
    events = generate_events(users=3000, sessions_per_user=3, items=1000, seed=0)
    tasks = [
        StreamTask("seq", ("page_enter:detail", "exposure", "click"), Window("count", 20)),
        StreamTask("clicks", ("click",), Window("time", 600)),
        StreamTask("dwell", ("page_leave",), Window("session")),
        StreamTask("cart", ("page_enter:cart",), Window("time", 1800)),
    ]
    rates = [measure_throughput(StreamProcessor(tasks), events)[0] for _ in range(3)]
    print(f"stream: {len(events)} events, 4 tasks, median {np.median(rates):,.0f} events/s")


def deployment() -> None:
    for size in (10_000, 100_000, 1_000_000):
        start = time.perf_counter()
        fleet = make_fleet(size, seed=0)
        compare_release_strategies(fleet, Policy(min_os_version=11), ReleaseConfig(), seed=0)
        print(f"release simulation, 3 strategies, {size:,} devices: "
              f"{time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    print(f"{platform.machine()}, {platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    latency()
    concurrency()
    stream()
    deployment()
