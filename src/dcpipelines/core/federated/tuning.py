"""Fair strategy comparisons: the same learning-rate grid for every strategy, chosen on validation.

Each strategy runs once per point of a grid (client learning rate x server learning rate) at
the first seed; the point with the best final *validation* metric is its chosen setting; the
chosen setting then runs at every seed. Every run evaluates the validation and the test set
on the same rounds, so the first seed's run of the chosen setting is reused (selection looks
at validation figures only; test figures are only read for the chosen runs).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import pandas as pd
import torch
from torch import nn
from torch.func import functional_call

from dcpipelines.core.federated.clients import ClientPartition
from dcpipelines.core.federated.engine import History, SimulationConfig, run_federated
from dcpipelines.core.federated.local import PerSampleLoss
from dcpipelines.core.federated.strategies import make_strategy

Scorer = Callable[[torch.Tensor, torch.Tensor], float]
Labelled = tuple[dict[str, torch.Tensor], torch.Tensor]


@dataclass
class Experiment:
    """What every run shares: model factory, clients, loss, score, evaluation sets."""

    make_model: Callable[[], nn.Module]
    clients: Sequence[ClientPartition]
    per_sample_loss: PerSampleLoss
    score: Scorer
    validation: Labelled
    test: Labelled
    grad_norm: Callable[[nn.Module], Callable[[Mapping[str, torch.Tensor]], float]] | None = None
    grad_norm_every: int = 10
    engine: Callable[..., History] = run_federated  # or flower_adapter.run_flower_simulation


@dataclass
class RunResult:
    """One strategy run: per-round figures, the final parameters, and how many clients dropped or updated."""
    rounds: pd.DataFrame  # round, update_norm, validation, test, grad_norm (NaN when not measured)
    params: dict[str, torch.Tensor]
    dropped: int
    client_updates: int


def run_one(exp: Experiment, run: Mapping, config: SimulationConfig) -> RunResult:
    """One strategy run (``run``: strategy, optional dropout and mu) evaluated on both sets."""
    torch.manual_seed(config.seed)
    model = exp.make_model()
    tables = list(exp.clients[0].rows)
    shapes = dict(model.named_parameters())
    strategy = make_strategy(
        run["strategy"], client_rows={t: [c.rows[t] for c in exp.clients] for t in tables},
        client_samples=[c.num_samples for c in exp.clients],
        num_rows={t: shapes[t].shape[0] for t in tables}, mu=run.get("mu", 0.01))
    norm = exp.grad_norm(model) if exp.grad_norm is not None else None
    records: list[dict] = []

    def evaluate(params):
        with torch.no_grad():
            figures = {name: exp.score(functional_call(model, params, (x,)), y)
                       for name, (x, y) in (("validation", exp.validation), ("test", exp.test))}
        t = len(records) * config.eval_every  # evaluations come every eval_every rounds
        if norm is not None and (t % exp.grad_norm_every == 0 or len(records) == 0):
            figures["grad_norm"] = norm(params)
        records.append(figures)
        return figures["validation"]

    history = exp.engine(model, exp.clients, strategy, exp.per_sample_loss,
                         replace(config, dropout=run.get("dropout", 0.0)), evaluate)
    table = pd.DataFrame({"round": history.rounds, "update_norm": history.update_norm})
    evals = pd.DataFrame(records, index=history.eval_rounds).reindex(
        columns=["validation", "test", "grad_norm"])
    table = table.join(evals, on="round")
    return RunResult(table, history.params, int(sum(history.dropped)), history.client_updates)


def with_setting(config: SimulationConfig, point: Mapping[str, float]) -> SimulationConfig:
    """``config`` with a grid point's client lr, server lr and server momentum."""
    return replace(config, lr=float(point["lr"]), server_lr=float(point["server_lr"]),
                   server_momentum=float(point["server_momentum"]))


def grid_points(grid: Mapping[str, Sequence]) -> list[dict[str, float]]:
    """Every client lr crossed with every server setting of the grid, in a fixed order.

    ``grid = {"lr": [...], "server": [{"server_lr": .., "server_momentum": ..}, ...]}``.
    """
    return [{"lr": float(a), "server_lr": float(b["server_lr"]),
             "server_momentum": float(b.get("server_momentum", 0.0))}
            for a, b in itertools.product(grid["lr"], grid["server"])]


def tune(exp: Experiment, runs: Mapping[str, Mapping], grid: Mapping[str, Sequence],
         config: SimulationConfig) -> tuple[pd.DataFrame, dict[str, RunResult]]:
    """Every strategy at every grid point at ``config.seed``: the grid table (run, lr,
    server_lr, server_momentum, final_validation, chosen) and each strategy's chosen run."""
    rows, chosen = [], {}
    for label, run in runs.items():
        results = []
        for point in grid_points(grid):
            result = run_one(exp, run, with_setting(config, point))
            final = float(result.rounds["validation"].dropna().iloc[-1])
            results.append((final, result))
            rows.append({"run": label, **point, "final_validation": final, "chosen": False})
        best = max(range(len(results)), key=lambda i: results[i][0])  # first best on ties
        rows[len(rows) - len(results) + best]["chosen"] = True
        chosen[label] = results[best][1]
    return pd.DataFrame(rows), chosen


def chosen_setting(grid_table: pd.DataFrame, label: str) -> dict[str, float]:
    """The (lr, server_lr, server_momentum) chosen for ``label`` on validation."""
    row = grid_table[(grid_table["run"] == label) & grid_table["chosen"]].iloc[0]
    return {k: float(row[k]) for k in ("lr", "server_lr", "server_momentum")}
