"""Batch-1 latency of one model under three runtimes: torch eager, onnxruntime and MNN.

All three run single-threaded (what one task gets on a phone core) and are timed in
interleaved rounds, so that noise from other processes on the machine hits them alike.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from dcpipelines.core.devices.mnn_runtime import MnnModel


@contextlib.contextmanager
def torch_threads(count: int):
    """Temporarily set torch's intra-op thread count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _time_calls(call: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def runtime_callables(
    model: torch.nn.Module, example_input: torch.Tensor, onnx_path: Path, mnn_path: Path
) -> dict[str, Callable[[], object]]:
    """One zero-argument call per runtime, each running ``example_input`` through the model."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    ort_session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    mnn_model = MnnModel(mnn_path, num_threads=1)
    array = example_input.numpy()
    model = model.eval()

    def torch_eager():
        with torch.inference_mode():
            return model(example_input)

    return {
        "torch": torch_eager,
        "onnxruntime": lambda: ort_session.run(None, {"input": array}),
        "mnn": lambda: mnn_model(array),
    }


def compare_latency(
    model: torch.nn.Module,
    example_input: torch.Tensor,
    onnx_path: Path,
    mnn_path: Path,
    rounds: int = 10,
    repeats: int = 50,
    warmup: int = 20,
    runtimes: tuple[str, ...] = ("torch", "onnxruntime", "mnn"),
) -> dict[str, dict[str, float]]:
    """Median and p90 latency (ms) per runtime over ``rounds`` interleaved blocks of ``repeats``."""
    with torch_threads(1):
        every = runtime_callables(model, example_input, onnx_path, mnn_path)
        calls = {name: every[name] for name in runtimes}
        samples: dict[str, list[float]] = {name: [] for name in calls}
        for call in calls.values():
            _time_calls(call, warmup)
        for _ in range(rounds):
            for name, call in calls.items():
                samples[name] += _time_calls(call, repeats)
    return {
        name: {"median_ms": float(np.median(v)), "p90_ms": float(np.percentile(v, 90))}
        for name, v in samples.items()
    }


__all__ = ["compare_latency", "runtime_callables", "torch_threads"]
