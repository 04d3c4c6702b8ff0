"""Run several on-device ML tasks concurrently, one MNN interpreter per task, four ways.

Walle runs many tasks side by side in a thread-level VM free of a global interpreter lock.
CPython has one, so this module measures which way of running N tasks gives that speed-up:

- ``sequential``: one task after another, one MNN thread each (the baseline);
- ``threads``: a thread pool, one task per thread, one MNN thread per session. MNN's
  ``runSession`` releases the GIL, but the per-request Python glue holds it;
- ``processes``: a pool of worker processes (started and warmed before timing, as a VM keeps
  its workers), each with its own interpreter and GIL; inputs and results cross a pipe;
- ``mnn_threads``: one task after another, each session with ``workers`` MNN threads
  (intra-op parallelism inside one inference, no Python concurrency at all).
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dcpipelines.core.devices.mnn_runtime import MnnModel

MODES = ("sequential", "threads", "processes", "mnn_threads")


@dataclass(frozen=True)
class DeviceTask:
    """An ML task on the device: a model file and the inputs it must score."""

    name: str
    mnn_path: Path
    inputs: np.ndarray  # (n, *input_shape): each row is one batch-1 request


@dataclass(frozen=True)
class TaskResult:
    """What one task did in a concurrency run: requests served, busy time, memory, and an output checksum."""
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


def _run_task_in_worker(task: DeviceTask) -> TaskResult:
    """A whole task inside a pool process: its own interpreter, session and GIL."""
    return _run_task(task, MnnModel(task.mnn_path, num_threads=1))


def _warm_worker(_: int) -> int:
    import MNN  # noqa: F401  (the import is the warm-up: the pool's processes are ready)

    return 0


def run_tasks(tasks: list[DeviceTask], workers: int, mode: str = "threads",
              pool: ProcessPoolExecutor | None = None) -> tuple[list[TaskResult], float]:
    """Run every task in ``mode`` (see the module doc) with ``workers``; returns results, wall s.
    ``processes`` needs a started ``pool`` (see :func:`process_pool`)."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if mode not in MODES:
        raise ValueError(f"unknown concurrency mode {mode!r}; known: {MODES}")
    if mode == "processes":
        if pool is None:
            raise ValueError("mode 'processes' needs a started process pool")
        start = time.perf_counter()
        results = list(pool.map(_run_task_in_worker, tasks))
        return results, time.perf_counter() - start
    threads = workers if mode == "mnn_threads" else 1
    models = [MnnModel(task.mnn_path, num_threads=threads) for task in tasks]
    start = time.perf_counter()
    if mode == "threads" and workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as executor:
            results = list(executor.map(_run_task, tasks, models))
    else:
        results = [_run_task(task, model) for task, model in zip(tasks, models, strict=True)]
    return results, time.perf_counter() - start


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` fresh (spawned) processes, already started and warmed."""
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    list(pool.map(_warm_worker, range(workers)))
    return pool


def compare_concurrency(
    tasks: list[DeviceTask], workers: int, modes: tuple[str, ...] = MODES, repeats: int = 1
) -> tuple[pd.DataFrame, dict[str, list[float]]]:
    """Per-task accounting of every mode (column ``wall_s``: that run's wall time), and each
    mode's wall times (s) over ``repeats`` runs, modes interleaved so that machine noise hits
    them alike."""
    pool = process_pool(workers) if "processes" in modes else None
    walls: dict[str, list[float]] = {mode: [] for mode in modes}
    rows = []
    try:
        for repeat in range(repeats):
            for mode in modes:
                results, wall_s = run_tasks(tasks, workers, mode, pool)
                walls[mode].append(wall_s)
                rows += [{"mode": mode, "repeat": repeat, "task": r.name, "requests": r.requests,
                          "busy_s": r.busy_s, "memory_mb": r.memory_mb, "checksum": r.checksum,
                          "wall_s": wall_s} for r in results]
    finally:
        if pool is not None:
            pool.shutdown()
    return pd.DataFrame(rows), walls


__all__ = ["MODES", "DeviceTask", "TaskResult", "compare_concurrency", "process_pool", "run_tasks"]
