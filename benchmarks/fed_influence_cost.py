"""Fed-Influence cost against leave-one-out retraining as the number of clients K grows.

For each K: a plain FedAvg run, the run with estimation (every client tracked, and a tracked
subset) and leave-one-out retraining (K + 1 runs) on the digits, in the pipeline's
partial-participation SGD setting (conf/base/parameters_fed_influence.yml, ``cost_sweep``).
FLOPs are those of the matrix products (torch's flop counter); CPU seconds are process time.
Prints a Markdown table.
Run: .venv/bin/python benchmarks/fed_influence_cost.py [--clients 10 20 50 100] [--seed 42]
(after `kedro run --pipelines ingest`; one torch thread).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    """Sweep K and print one table row per K."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=None)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    from dcpipelines.config import load_parameters
    from dcpipelines.core.data import load_digits_table
    from dcpipelines.core.federated.influence_experiments import cost_point

    sweep = load_parameters("fed_influence")["cost_sweep"]
    digits = load_digits_table()
    print("| K | per round | plain GFLOP | estimation / LOO FLOPs | subset / LOO FLOPs "
          "| estimation / LOO CPU | subset / LOO CPU | Spearman |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for k in args.clients or sweep["num_clients"]:
        r = cost_point(digits, k, sweep, args.seed)
        loo, loo_cpu = r["leave_one_out_flops"], r["leave_one_out_cpu_seconds"]
        print(f"| {k} | {r['clients_per_round']} | {r['plain_flops'] / 1e9:.2f} "
              f"| {r['estimation_flops'] / loo:.2f} | {r['subset_estimation_flops'] / loo:.3f} "
              f"| {r['estimation_cpu_seconds'] / loo_cpu:.2f} "
              f"| {r['subset_estimation_cpu_seconds'] / loo_cpu:.3f} | {r['spearman']:.4f} |",
              flush=True)


if __name__ == "__main__":
    main()
