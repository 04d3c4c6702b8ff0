"""Run several strategies on the same clients with the same seeds and tabulate the rounds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.func import functional_call

from dcpipelines.core.federated.clients import ClientPartition
from dcpipelines.core.federated.engine import SimulationConfig, run_federated
from dcpipelines.core.federated.local import PerSampleLoss
from dcpipelines.core.federated.strategies import make_strategy

Scorer = Callable[[torch.Tensor, torch.Tensor], float]


def rounds_to_target(rounds: Sequence[int], values: Sequence[float], target: float) -> int:
    """First evaluated round whose metric reaches ``target``; -1 when none does."""
    for r, v in zip(rounds, values, strict=True):
        if v >= target:
            return int(r)
    return -1


def compare_strategies(
    make_model: Callable[[], nn.Module],
    clients: Sequence[ClientPartition],
    per_sample_loss: PerSampleLoss,
    test_features: dict[str, torch.Tensor],
    test_labels: torch.Tensor,
    score: Scorer,
    config: SimulationConfig,
    runs: dict[str, dict],
    fedprox_mu: float = 0.01,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One run per entry of ``runs`` (label -> {strategy, dropout}); same seed and init for all.

    Returns a per-round table (label, round, sampled, dropped, update_norm, metric) with NaN
    metric on rounds not evaluated, and a per-run summary.
    """
    tables = list(clients[0].rows)
    client_rows = {t: [c.rows[t] for c in clients] for t in tables}
    samples = [c.num_samples for c in clients]
    round_frames, summary = [], []
    for label, run in runs.items():
        torch.manual_seed(config.seed)
        model = make_model()
        num_rows = {t: dict(model.named_parameters())[t].shape[0] for t in tables}
        strategy = make_strategy(run["strategy"], client_rows=client_rows,
                                 client_samples=samples, num_rows=num_rows, mu=fedprox_mu)
        run_config = replace(config, dropout=run.get("dropout", 0.0))

        def evaluate(params, model=model):
            with torch.no_grad():
                return score(functional_call(model, params, (test_features,)), test_labels)

        history = run_federated(model, clients, strategy, per_sample_loss, run_config, evaluate)
        metric = pd.Series(history.eval_metric, index=history.eval_rounds)
        round_frames.append(pd.DataFrame({
            "run": label, "strategy": run["strategy"], "round": history.rounds,
            "sampled": history.sampled, "dropped": history.dropped,
            "update_norm": history.update_norm,
            "metric": metric.reindex(history.rounds).to_numpy(dtype=np.float64),
        }))
        summary.append({
            "run": label, "strategy": run["strategy"], "dropout": run_config.dropout,
            "final_metric": history.eval_metric[-1], "best_metric": max(history.eval_metric),
            "dropped_total": int(sum(history.dropped)), "client_updates": history.client_updates,
            "train_seconds": history.train_seconds,
        })
    return pd.concat(round_frames, ignore_index=True), pd.DataFrame(summary)
