"""Benchmarks of the walle pieces on this machine: batch-1 latency of walle's reference edge
models under torch eager, onnxruntime and MNN on real inputs (a digit, a CIFAR-10 test image);
MNN session settings on the convolutional model; N concurrent MNN tasks in threads, worker
processes and multi-threaded sessions; stream processing events/s on one core; wall time of the
1,000,000-device release simulation.

    .venv/bin/python benchmarks/walle_bench.py   (after `kedro run --pipelines ingest`)
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


def real_inputs() -> dict:
    """A digit and a CIFAR-10 test image (the ingested primary data) as batch-1 inputs."""
    import torch

    from dcpipelines.core.data import load_digits_table
    from dcpipelines.core.nn.edge_models import digits_tensors
    from dcpipelines.datasets import ImageSetDataset

    digit = digits_tensors(load_digits_table())[0][:1]
    test = ImageSetDataset("data/03_primary/cifar10_images.npz").load().subset("test")
    image = torch.from_numpy(test.images[:1].astype(np.float32) / 255.0).permute(0, 3, 1, 2)
    return {"digits_cnn": digit, "digits_mlp": digit, "image_cnn32": image.contiguous()}


def latency(models: dict) -> None:
    print("| model | torch eager ms | onnxruntime ms | MNN ms | MNN / torch | MNN / onnxruntime |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, entry in models.items():
        model = entry["module"]
        export = export_in_memory(model, entry["example_input"], name)
        with tempfile.TemporaryDirectory() as scratch:
            onnx_path, mnn_path = export.write(scratch)
            result = compare_latency(model, entry["example_input"], onnx_path, mnn_path,
                                     rounds=20, repeats=100)
        t, o, m = (result[k]["median_ms"] for k in ("torch", "onnxruntime", "mnn"))
        print(f"| {name} | {t:.4f} | {o:.4f} | {m:.4f} | {m / t:.2f} | {m / o:.2f} |")


def _best_ms(call, repeats: int = 200, blocks: int = 7) -> float:
    for _ in range(30):
        call()
    best = float("inf")
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(repeats):
            call()
        best = min(best, (time.perf_counter() - start) / repeats * 1e3)
    return best


def mnn_settings(entry: dict) -> None:
    """MNN session settings and thread counts on image_cnn32 against onnxruntime."""
    import onnxruntime as ort

    from dcpipelines.core.devices.calibration import host_compute, operator_flops
    from dcpipelines.core.devices.mnn_runtime import MnnModel

    example = entry["example_input"]
    array = example.numpy()
    flops = sum(operator_flops(entry["module"], example).values())
    peak = host_compute().peak_gflops
    export = export_in_memory(entry["module"], example, "image_cnn32")
    with tempfile.TemporaryDirectory() as scratch:
        onnx_path, mnn_path = export.write(scratch)
        rows = []
        for threads in (1, 2):
            options = ort.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
            session = ort.InferenceSession(str(onnx_path), options,
                                           providers=["CPUExecutionProvider"])
            rows.append((f"onnxruntime, {threads} thread(s)",
                         _best_ms(lambda s=session: s.run(None, {"input": array}))))
            for mode in ("normal", "high", "low"):
                model = MnnModel(mnn_path, num_threads=threads, precision=mode, memory=mode,
                                 power=mode)
                rows.append((f"MNN precision/memory/power {mode}, {threads} thread(s)",
                             _best_ms(lambda m=model: m(array))))
    print(f"image_cnn32: {flops / 1e6:.1f} MFLOPs; one core's AVX2 peak {peak:.0f} GFLOP/s")
    print("| runtime and settings | best ms | GFLOP/s | share of one core's AVX2 peak |")
    print("| --- | --- | --- | --- |")
    for label, ms in rows:
        rate = flops / ms / 1e6
        print(f"| {label} | {ms:.4f} | {rate:.0f} | {rate / peak:.2f} |")


def concurrency() -> None:
    rng = np.random.default_rng(0)
    for name in ("image_cnn32", "digits_cnn"):
        entry = reference_edge_models()[name]
        export = export_in_memory(entry["module"], entry["example_input"], name)
        with tempfile.TemporaryDirectory() as scratch:
            _, path = export.write(scratch)
            shape = (1000, *entry["example_input"].shape[1:])
            tasks = [DeviceTask(f"t{i}", path, rng.random(shape, dtype=np.float32))
                     for i in range(4)]
            _, walls = compare_concurrency(tasks, workers=2, repeats=3)
            sequential = np.median(walls["sequential"])
            print(f"{name}: 4 tasks x 1000 requests, 2 workers: sequential {sequential:.3f} s; "
                  + ", ".join(f"{mode} {np.median(v):.3f} s ({sequential / np.median(v):.2f}x)"
                              for mode, v in walls.items() if mode != "sequential"))


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
    models = reference_edge_models(examples=real_inputs())
    latency(models)
    mnn_settings(models["image_cnn32"])
    concurrency()
    stream()
    deployment()
