"""Sparse vs dense aggregation of client updates at 1% row density.

Each of C clients updates 1% of the rows of an item embedding table (plus the small dense
layers). Sparse: FedSubAvg/FedAvg aggregation of (row ids, row deltas). Dense: the same
updates as full-size tensors averaged the plain way. Prints a Markdown table row.
Run: .venv/bin/python benchmarks/fedsubavg_sparse_aggregation.py
"""

from __future__ import annotations

import platform
import time

import torch

from dcpipelines.core.federated import ClientUpdate, FedAvg, FedSubAvg, SparseRows

ROWS, DIM, CLIENTS, DENSITY, REPEATS = 33_136, 18, 100, 0.01, 5
DENSE_SHAPES = {"head.weight": (36, 54), "head.bias": (36,)}


def updates(sparse: bool, seed: int = 0) -> list[ClientUpdate]:
    g = torch.Generator().manual_seed(seed)
    per_client = int(DENSITY * ROWS)
    out = []
    for i in range(CLIENTS):
        rows = torch.randperm(ROWS, generator=g)[:per_client]
        values = torch.randn(per_client, DIM, generator=g)
        dense = {k: torch.randn(s, generator=g) for k, s in DENSE_SHAPES.items()}
        if sparse:
            out.append(ClientUpdate(i, 10 + i, dense, {"emb": SparseRows(rows, values)}))
        else:
            dense["emb"] = SparseRows(rows, values).to_dense(ROWS)
            out.append(ClientUpdate(i, 10 + i, dense))
    return out


def best_of(fn) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    torch.set_num_threads(1)
    shapes = {"emb": torch.Size([ROWS, DIM]), **{k: torch.Size(s) for k, s in DENSE_SHAPES.items()}}
    sparse, dense = updates(True), updates(False)
    rows_of = [u.sparse["emb"].row_ids for u in sparse]
    subavg = FedSubAvg({"emb": rows_of}, [u.num_samples for u in sparse], {"emb": ROWS})
    # the same answer both ways
    torch.testing.assert_close(FedAvg().aggregate(sparse, shapes)["emb"],
                               FedAvg().aggregate(dense, shapes)["emb"], atol=1e-5, rtol=1e-5)
    t_sparse = best_of(lambda: FedAvg().aggregate(sparse, shapes))
    t_subavg = best_of(lambda: subavg.aggregate(sparse, shapes))
    t_dense = best_of(lambda: FedAvg().aggregate(dense, shapes))
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch thread, "
          f"{CLIENTS} clients, table {ROWS}x{DIM}, row density {DENSITY:.0%}")
    print("| aggregation | ms per round | speed-up vs dense |")
    print("| --- | --- | --- |")
    print(f"| dense FedAvg (full tables) | {1000 * t_dense:.1f} | 1.0x |")
    print(f"| sparse FedAvg (row ids + values) | {1000 * t_sparse:.1f} | "
          f"{t_dense / t_sparse:.1f}x |")
    print(f"| sparse FedSubAvg (row ids + values, c_r) | {1000 * t_subavg:.1f} | "
          f"{t_dense / t_subavg:.1f}x |")


if __name__ == "__main__":
    main()
