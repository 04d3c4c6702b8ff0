"""Independent jobs (one model's training, one seed's run) in worker processes.

Each worker is a fresh interpreter (the ``spawn`` start method: no threads, locks or open files
of the parent are inherited) with the parent's environment and, when the parent has imported
torch, the parent's torch thread count (one in a run, see ``settings.py``): floating-point sums
depend on the thread count, and at the same count a job computes exactly what it would compute in
the parent, so results do not depend on ``workers``. A job is a module-level function
and its arguments, which must pickle; ``shared`` (large inputs every job reads) is sent once per
worker instead of once per job. Results come back in the order of the jobs.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

logger = logging.getLogger(__name__)

_NOTHING = object()
_shared: Any = _NOTHING  # a worker's copy of ``shared``


def _receive(threads: int | None, has_shared: bool, shared: Any) -> None:
    global _shared
    _shared = shared if has_shared else _NOTHING
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def _call(function: Callable[..., Any], job: tuple[Any, ...]) -> Any:
    return function(*job) if _shared is _NOTHING else function(_shared, *job)


def run_jobs(function: Callable[..., Any], jobs: Sequence[tuple[Any, ...]], workers: int,
             label: str = "jobs", shared: Any = _NOTHING) -> list[Any]:
    """``[function(*job) for job in jobs]`` (``function(shared, *job)`` when ``shared`` is given),
    computed by up to ``workers`` processes; 1 runs them here. Jobs are handed out in order, so
    put the longest first. An exception in a job is raised here once the pool has stopped."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    head = () if shared is _NOTHING else (shared,)
    if workers == 1 or len(jobs) <= 1:
        return [function(*head, *job) for job in jobs]
    count = min(workers, len(jobs))
    threads = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None
    logger.info("%s: %d jobs in %d worker processes", label, len(jobs), count)
    start = time.perf_counter()
    pool = ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_receive, initargs=(threads, bool(head), head[0] if head else None))
    try:
        futures = [pool.submit(_call, function, tuple(job)) for job in jobs]
        results = [future.result() for future in futures]
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    logger.info("%s: done in %.1f s", label, time.perf_counter() - start)
    return results
