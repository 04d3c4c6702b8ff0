"""Held-out sets for the Zipf sparse federation, and the small model the sweep trains.

:func:`zipf_federation` draws each client's samples with
:func:`dcpipelines.core.federated.synthetic.zipf_sparse_clients` and keeps the last ones of
every client apart as validation and test samples (global ids), so a sweep over the skew of
row popularity can tune on validation and report test figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import pandas as pd
import torch
from torch import nn
from typing_extensions import override

from dcpipelines.core.federated.clients import ClientPartition, make_client, row_density
from dcpipelines.core.federated.engine import SimulationConfig
from dcpipelines.core.federated.local import LocalConfig
from dcpipelines.core.federated.models import binary_loss
from dcpipelines.core.federated.synthetic import TABLE, zipf_sparse_clients
from dcpipelines.core.federated.tuning import (
    Experiment,
    Scorer,
    chosen_setting,
    run_one,
    tune,
    with_setting,
)


@dataclass
class ZipfFederation:
    """Synthetic sparse clients drawn with Zipf-distributed row popularity, with validation and test sets."""
    clients: list[ClientPartition]
    validation: tuple[dict[str, torch.Tensor], torch.Tensor]
    test: tuple[dict[str, torch.Tensor], torch.Tensor]
    num_rows: int


def zipf_federation(
    num_clients: int, num_rows: int, *, samples_per_client: int, holdout_per_client: int,
    ids_per_sample: int = 3, zipf_exponent: float = 1.1, density: float = 0.01, seed: int = 0,
) -> ZipfFederation:
    """Clients with ``samples_per_client`` training samples, plus ``holdout_per_client``
    validation and as many test samples per client (drawn from the client's own rows)."""
    total = samples_per_client + 2 * holdout_per_client
    drawn, _ = zipf_sparse_clients(num_clients, num_rows, samples_per_client=total,
                                   ids_per_sample=ids_per_sample, zipf_exponent=zipf_exponent,
                                   density=density, seed=seed)
    clients, val, test = [], [], []
    for c in drawn:
        ids = c.rows[TABLE][c.features["ids"]]  # back to global ids
        n, h = samples_per_client, holdout_per_client
        clients.append(make_client(c.client_id, {"ids": ids[:n]}, c.labels[:n], {TABLE: ["ids"]}))
        val.append((ids[n:n + h], c.labels[n:n + h]))
        test.append((ids[n + h:], c.labels[n + h:]))

    def stack(parts):
        return {"ids": torch.cat([p[0] for p in parts])}, torch.cat([p[1] for p in parts])

    return ZipfFederation(clients, stack(val), stack(test), num_rows)


class SparseLogistic(nn.Module):
    """Logit = a linear map of the summed embeddings of a sample's ids (table ``emb``)."""

    def __init__(self, num_rows: int, dim: int = 4) -> None:
        super().__init__()
        self.emb = nn.Embedding(num_rows, dim, padding_idx=0)
        nn.init.normal_(self.emb.weight, std=0.1)
        with torch.no_grad():
            self.emb.weight[0].zero_()
        self.out = nn.Linear(dim, 1)

    @override
    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.out(self.emb(x["ids"]).sum(-2)).squeeze(-1)


def run_sweep(params: Mapping[str, Any], runs: Mapping[str, Mapping], score: Scorer,
              seed: int, seeds: int) -> pd.DataFrame:
    """Every setting of ``params["settings"]`` (name, zipf_exponent, density, num_rows): each
    strategy tuned on validation over ``params["grid"]`` at ``seed``, then its chosen setting
    at ``seeds`` seeds; one row per setting, strategy and seed with the final test metric."""

    training = params["training"]
    rows = []
    for setting in params["settings"]:
        fed = zipf_federation(
            params["num_clients"], setting["num_rows"],
            samples_per_client=params["samples_per_client"],
            holdout_per_client=params["holdout_per_client"],
            ids_per_sample=params["ids_per_sample"], zipf_exponent=setting["zipf_exponent"],
            density=setting["density"], seed=seed)
        exp = Experiment(partial(SparseLogistic, fed.num_rows, params["dim"]),
                         fed.clients, binary_loss, score, fed.validation, fed.test)
        base = SimulationConfig(
            rounds=training["rounds"], clients_per_round=training["clients_per_round"],
            lr=1.0, eval_every=training["rounds"],
            local=LocalConfig(training["local_epochs"], training["batch_size"]), seed=seed)
        grid_table, chosen = tune(exp, runs, params["grid"], base)
        density = row_density(fed.clients, TABLE, fed.num_rows)
        for i in range(seeds):
            for label, run in runs.items():
                point = chosen_setting(grid_table, label)
                result = chosen[label] if i == 0 else run_one(
                    exp, run, with_setting(replace(base, seed=seed + i), point))
                rows.append({"setting": setting["name"], "zipf_exponent": setting["zipf_exponent"],
                             "row_density": density, "run": label, "seed": seed + i, **point,
                             "final_test": float(result.rounds["test"].dropna().iloc[-1])})
    return pd.DataFrame(rows)
