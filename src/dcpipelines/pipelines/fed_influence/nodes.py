"""Nodes of the fed_influence pipeline: estimated vs leave-one-out influence, debugging, cost.

torch and the federated engine are imported inside the functions to keep start-up cheap.
Every experiment node runs once per seed of ``seed_list(seed, seeds)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dcpipelines.core.seeds import derive_seed, seed_list


def digit_clients(digits: pd.DataFrame, params: dict, seed: int, seeds: int) -> dict[int, Any]:
    """Per run seed: Dirichlet label-skewed clients plus server-side validation and test sets."""
    from dcpipelines.core.federated.digits_clients import split_digits

    return {s: split_digits(digits, num_clients=params["num_clients"], alpha=params["alpha"],
                            val_fraction=params["val_fraction"],
                            test_fraction=params["test_fraction"], seed=s)
            for s in seed_list(seed, seeds)}


def compare_with_leave_one_out(splits: dict[int, Any], model: dict,
                               training: dict) -> tuple[pd.DataFrame, pd.DataFrame, Any]:
    """Per seed and client: estimated and retrained influence; the first seed's per-round
    curve and final model."""
    from dcpipelines.core.federated.influence_experiments import compare_with_leave_one_out

    runs = [compare_with_leave_one_out(split, model, training, s) for s, split in splits.items()]
    return pd.concat([r.clients for r in runs], ignore_index=True), runs[0].history, runs[0].theta


def debug_corrupted_clients(splits: dict[int, Any], debugging: dict,
                            setting: dict) -> pd.DataFrame:
    """Per seed and corruption: rank clients by estimated effect on the validation loss."""
    from dcpipelines.core.federated.influence_experiments import debug_ranking

    tables = []
    for s, split in splits.items():
        rng = np.random.default_rng(derive_seed(s, "fed_influence.corrupted_clients"))
        corrupted = sorted(int(c) for c in rng.choice(split.client_sizes.numel(), debugging["k"],
                                                      replace=False))
        for name, fraction in debugging["corruptions"].items():
            table = debug_ranking(split, corrupted, float(fraction), debugging["model"],
                                  setting["training"], s,
                                  derive_seed(s, "fed_influence.random_ranking"))
            tables.append(table.assign(corruption=name))
    return pd.concat(tables, ignore_index=True)


def cost_sweep(digits: pd.DataFrame, sweep: dict, seed: int) -> pd.DataFrame:
    """CPU time and FLOPs of plain, estimating and leave-one-out runs for each client count."""
    from dcpipelines.core.federated.influence_experiments import cost_point

    return pd.DataFrame([cost_point(digits, int(k), sweep, seed) for k in sweep["num_clients"]])


def global_models(convex: Any, nonconvex: Any, partial: Any, convex_model: dict,
                  nonconvex_model: dict, setting: dict) -> dict[str, dict]:
    """The final federated models (first seed) as MLflow models."""
    import torch

    from dcpipelines.core.federated.digits_clients import PIXELS, as_module

    example = torch.zeros(1, PIXELS)
    entries = {"convex": (convex, convex_model, "full participation"),
               "nonconvex": (nonconvex, nonconvex_model, "full participation"),
               "partial_participation": (partial, setting["model"],
                                         "partial participation, local mini-batch SGD")}
    return {f"fed_influence_{name}": {
        "module": as_module(model, theta), "example_input": example,
        "description": f"FedAvg {model['kind']} digits classifier ({how}); 8x8 pixels -> logits"}
        for name, (theta, model, how) in entries.items()}
