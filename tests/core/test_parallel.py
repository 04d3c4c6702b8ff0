"""Jobs in worker processes compute exactly what they compute in this process: RouteT2I's router
trainings (a dual-gate predictor and the three baselines) give the same test predictions with one
process or two, and a failing job is raised here."""

from __future__ import annotations

import numpy as np
import pytest

from dcpipelines.core.parallel import run_jobs
from dcpipelines.core.routing.evaluation import BASELINE_JOB, RouterData, router_jobs, train_router
from dcpipelines.core.routing.tokens import TokenBatch

DIMS = ["colour", "shape"]
ROUTER = {"d_model": 8, "heads": 2, "layers": 1, "top_k": 2, "rank": 4, "score_dim": 4, "epochs": 2,
          "batch_size": 16, "lr": 0.01, "baseline_epochs": 2}


def _data(n: int = 48, length: int = 6, seed: int = 0) -> RouterData:
    rng = np.random.default_rng(seed)
    batches, quality = {}, {}
    for split in ("router_train", "test"):
        mask = np.arange(length)[None, :] < rng.integers(3, length + 1, n)[:, None]
        embeddings = (rng.normal(size=(n, length, 384)) * mask[..., None]).astype(np.float32)
        batches[split] = TokenBatch(embeddings, mask, [["w"] * int(m.sum()) for m in mask])
        quality[split] = (rng.uniform(0.4, 0.6, (n, len(DIMS))), rng.uniform(0.5, 0.7, (n, len(DIMS))))
    sentences = {split: rng.normal(size=(n, 384)).astype(np.float32) for split in batches}
    return RouterData(batches, {split: None for split in batches}, sentences, quality, np.arange(n))


def test_router_trainings_are_the_same_in_worker_processes():
    data = _data()
    jobs = [(seed, part) for seed, part in router_jobs([3, 4], {}) if part in ("routet2i", BASELINE_JOB)]
    assert jobs == [(3, "routet2i"), (4, "routet2i"), (3, BASELINE_JOB), (4, BASELINE_JOB)]
    args = [(seed, part, ROUTER, DIMS) for seed, part in jobs]
    here = run_jobs(train_router, args, workers=1, shared=data)
    there = run_jobs(train_router, args, workers=2, shared=data)
    for a, b in zip(here, there, strict=True):
        assert a["columns"].keys() == b["columns"].keys() and a["columns"]
        for key in a["columns"]:
            np.testing.assert_array_equal(a["columns"][key], b["columns"][key])
        assert a["histories"] == b["histories"]
    # the two seeds trained different models (the comparison above is not between constants)
    assert not np.array_equal(here[0]["columns"]["routet2i__distance_colour"], here[1]["columns"]["routet2i__distance_colour"])


def test_a_failing_job_is_raised_and_workers_are_checked():
    data = _data(n=16)
    with pytest.raises(ValueError, match="unknown router job 'nope'"):
        run_jobs(train_router, [(3, "routet2i", ROUTER, DIMS), (3, "nope", ROUTER, DIMS)], workers=2, shared=data)
    with pytest.raises(ValueError, match="workers must be at least 1"):
        run_jobs(train_router, [], workers=0)
    assert run_jobs(divmod, [(7, 2), (9, 4)], workers=2) == [(3, 1), (2, 1)]
