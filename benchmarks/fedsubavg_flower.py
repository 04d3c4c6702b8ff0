"""Client updates per second: the in-process engine vs Flower 1.42 run_simulation (Ray).

Same model (the pipeline's DIN), same Amazon clients, same strategy (FedSubAvg), same rounds
and clients per round, in the same process one after the other. The Flower run uses the
adapter in core/federated/flower_adapter.py (one Ray actor per CPU, the engine's local
training inside each ClientApp). Prints a Markdown table.
Run: .venv/bin/python benchmarks/fedsubavg_flower.py [--clients 300 --per-round 100 --rounds 5]
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import pandas as pd
import torch

from dcpipelines.core.data import read_click_log
from dcpipelines.core.federated import LocalConfig, SimulationConfig, make_strategy, run_federated
from dcpipelines.core.federated.click_clients import ITEM_TABLE, build_click_clients
from dcpipelines.core.federated.models import binary_loss
from dcpipelines.core.recsys.din import DIN

ROOT = Path(__file__).resolve().parents[1]


def click_table() -> pd.DataFrame:
    primary = ROOT / "data/03_primary/click_log.parquet"
    if primary.exists():
        return pd.read_parquet(primary)
    raw = read_click_log(ROOT / "data/01_raw/recsys/amazon_electronics_fedsubavg_users.tsv.gz")
    raw["history_length"] = raw["history"].str.count(",").add(1).where(raw["history"] != "", 0)
    return raw


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--per-round", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = build_click_clients(click_table(), num_users=args.clients, seed=0)
    config = SimulationConfig(rounds=args.rounds, clients_per_round=args.per_round, lr=0.1,
                              lr_decay=0.999, local=LocalConfig(1, 4), seed=0)

    def strategy():
        return make_strategy("fedsubavg", client_rows={
            ITEM_TABLE: [c.rows[ITEM_TABLE] for c in data.clients]},
            client_samples=[c.num_samples for c in data.clients],
            num_rows={ITEM_TABLE: data.num_items})

    torch.manual_seed(0)
    engine = run_federated(DIN(data.num_items), data.clients, strategy(), binary_loss, config)
    engine_rate = engine.client_updates / engine.train_seconds

    from dcpipelines.core.federated.flower_adapter import run_flower_simulation

    torch.manual_seed(0)
    flower = run_flower_simulation(DIN(data.num_items), data.clients, strategy(), binary_loss,
                                   config, num_cpus=args.cpus)
    flower_rate = flower.client_updates / flower.seconds
    print(f"machine: {platform.machine()}, {args.cpus} CPUs for Ray, engine on 1 thread; "
          f"{args.clients} Amazon clients, {args.per_round} a round, {args.rounds} rounds, DIN")
    print("| runner | client updates | seconds | updates per s |")
    print("| --- | --- | --- | --- |")
    print(f"| in-process engine | {engine.client_updates} | {engine.train_seconds:.2f} | "
          f"{engine_rate:.1f} |")
    print(f"| Flower 1.42 run_simulation (Ray) | {flower.client_updates} | {flower.seconds:.2f} "
          f"| {flower_rate:.1f} |")
    print(f"\nengine speed-up: {engine_rate / flower_rate:.1f}x "
          "(Flower's time includes starting Ray and its actors, as a user would pay it)")


if __name__ == "__main__":
    main()
