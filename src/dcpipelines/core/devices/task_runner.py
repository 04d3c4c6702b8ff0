"""Run several on-device ML tasks concurrently, one MNN interpreter per task.

Walle runs many tasks side by side in a thread-level VM. Here each task owns an
``MnnModel`` (interpreter + session, never shared between threads) and a thread pool runs
them; the same tasks run one after another give the baseline. MNN's ``runSession`` is native
code, so threads overlap when the machine has free cores.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dcpipelines.core.devices.mnn_runtime import MnnModel


@dataclass(frozen=True)
class DeviceTask:
    """An ML task on the device: a model file and the inputs it must score."""

    name: str
    mnn_path: Path
    inputs: np.ndarray  # (n, *input_shape): each row is one batch-1 request


@dataclass(frozen=True)
class TaskResult:
    name: str
    requests: int
    busy_s: float
    memory_mb: float
    checksum: float  # sum of all outputs, to check concurrent and sequential runs agree


def _run_task(task: DeviceTask, model: MnnModel) -> TaskResult:
    start = time.perf_counter()
    total = 0.0
    for row in task.inputs:
        total += float(model(row[None]).sum())
    return TaskResult(task.name, len(task.inputs), time.perf_counter() - start, model.memory_mb, total)


def run_tasks(tasks: list[DeviceTask], workers: int) -> tuple[list[TaskResult], float]:
    """Run every task with ``workers`` threads (1 = one after another); returns results, wall s."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    models = [MnnModel(task.mnn_path, num_threads=1) for task in tasks]
    start = time.perf_counter()
    if workers == 1:
        results = [_run_task(task, model) for task, model in zip(tasks, models, strict=True)]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_run_task, tasks, models))
    return results, time.perf_counter() - start


def compare_concurrency(
    tasks: list[DeviceTask], workers: int
) -> tuple[pd.DataFrame, float, float]:
    """Per-task accounting of a sequential and a concurrent run, and both wall times (s)."""
    sequential, sequential_s = run_tasks(tasks, 1)
    concurrent, concurrent_s = run_tasks(tasks, workers)
    rows = []
    for mode, results in (("sequential", sequential), ("concurrent", concurrent)):
        rows += [
            {"mode": mode, "task": r.name, "requests": r.requests, "busy_s": r.busy_s,
             "memory_mb": r.memory_mb, "checksum": r.checksum}
            for r in results
        ]
    return pd.DataFrame(rows), sequential_s, concurrent_s


__all__ = ["DeviceTask", "TaskResult", "compare_concurrency", "run_tasks"]
