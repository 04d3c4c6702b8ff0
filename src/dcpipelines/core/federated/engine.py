"""The in-process federated simulation: rounds, client sampling, dropout, aggregation.

Per round the server samples clients, some drop out (they return nothing), the rest train
locally as one batched cohort (:func:`train_cohort`), and the strategy aggregates their
updates into the global model. Sampling, dropout and batch orders come from the seed only, so
two strategies run with the same seed see the same clients, drops and batches.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from dcpipelines.core.federated.clients import ClientPartition
from dcpipelines.core.federated.local import LocalConfig, PerSampleLoss, train_cohort
from dcpipelines.core.federated.strategies import Strategy
from dcpipelines.core.federated.updates import ClientUpdate
from dcpipelines.core.progress import progress

Evaluate = Callable[[Mapping[str, torch.Tensor]], float]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundPlan:
    """Who is asked to train in one round, and who of them drops out."""

    sampled: np.ndarray
    dropped: np.ndarray

    @property
    def answering(self) -> np.ndarray:
        """The sampled clients that do not drop out: those whose updates the server receives."""
        return self.sampled[~np.isin(self.sampled, self.dropped)]


def plan_round(
    num_clients: int, clients_per_round: int, dropout: float, rng: np.random.Generator
) -> RoundPlan:
    """Sample clients without replacement; drop ``round(dropout * sampled)`` of them."""
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    m = min(clients_per_round, num_clients)
    sampled = np.sort(rng.choice(num_clients, size=m, replace=False))
    n_drop = int(round(dropout * m))
    dropped = np.sort(rng.choice(sampled, size=n_drop, replace=False)) if n_drop else sampled[:0]
    return RoundPlan(sampled, dropped)


@dataclass
class History:
    """What the server logs per round: drops, update norms, evaluation, and the final model."""

    rounds: list[int] = field(default_factory=list)
    sampled: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    update_norm: list[float] = field(default_factory=list)  # ||global delta|| / lr
    eval_rounds: list[int] = field(default_factory=list)
    eval_metric: list[float] = field(default_factory=list)
    client_updates: int = 0
    train_seconds: float = 0.0
    params: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class SimulationConfig:
    """Settings of one federated run: rounds, sampling, learning rates, dropout, local training, seed and the server optimiser."""
    rounds: int
    clients_per_round: int
    lr: float
    lr_decay: float = 1.0  # the learning rate of round t is lr * lr_decay ** t
    dropout: float = 0.0
    eval_every: int = 1
    local: LocalConfig = LocalConfig()
    seed: int = 0
    server_lr: float = 1.0  # global step = server_lr x (momentum buffer of aggregated deltas)
    server_momentum: float = 0.0  # FedAvgM (Hsu et al. 2019): 0 gives plain averaging


class ServerOptimizer:
    """The server's step from an aggregated delta: ``v = beta v + delta; w = w + eta_s v``.

    With ``server_lr = 1`` and ``server_momentum = 0`` this is plain averaging (FedAvg). Any
    strategy's aggregate (FedSubAvg's included) goes through the same step, so every
    strategy gets the same server-side knobs.
    """

    def __init__(self, server_lr: float = 1.0, server_momentum: float = 0.0) -> None:
        if server_lr <= 0 or not 0.0 <= server_momentum < 1.0:
            raise ValueError(f"server_lr must be > 0 and server_momentum in [0, 1), got "
                             f"{server_lr} and {server_momentum}")
        self.lr, self.momentum = float(server_lr), float(server_momentum)
        self._velocity: dict[str, torch.Tensor] = {}

    def step(self, params: Mapping[str, torch.Tensor],
             delta: Mapping[str, torch.Tensor]) -> tuple[dict, dict]:
        """New parameters and the applied global update (what the parameters moved by)."""
        if self.momentum:
            for k, d in delta.items():
                v = self._velocity.get(k)
                self._velocity[k] = d.clone() if v is None else self.momentum * v + d
            delta = self._velocity
        moved = {k: self.lr * d for k, d in delta.items()}
        return apply_delta(params, moved), moved


def round_seed(seed: int, round_index: int) -> int:
    """Seed of the local batch orders of one round (0-based), shared by every strategy."""
    return seed * 100_003 + round_index


def apply_delta(params: Mapping[str, torch.Tensor], delta: Mapping[str, torch.Tensor]) -> dict:
    """Parameters plus an aggregated update (dense tensors and sparse rows)."""
    return {k: params[k] + delta[k].to(params[k].dtype) for k in params}


def run_federated(
    model: nn.Module,
    clients: Sequence[ClientPartition],
    strategy: Strategy,
    per_sample_loss: PerSampleLoss,
    config: SimulationConfig,
    evaluate: Evaluate | None = None,
    on_updates: Callable[[int, list[ClientUpdate]], None] | None = None,
) -> History:
    """Train ``model`` federatedly from its current parameters; returns the round history."""
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    shapes = {k: v.shape for k, v in params.items()}
    rng = np.random.default_rng(config.seed)
    history = History()
    server = ServerOptimizer(config.server_lr, config.server_momentum)
    bar = progress(range(config.rounds), desc=f"{strategy.name} rounds", unit="round")
    for t in bar:
        plan = plan_round(len(clients), config.clients_per_round, config.dropout, rng)
        lr = config.lr * config.lr_decay**t
        started = time.perf_counter()
        cohort = [clients[i] for i in plan.answering]
        updates = []
        if cohort:
            updates = train_cohort(
                model, params, cohort, per_sample_loss, lr=lr, config=config.local,
                proximal_mu=strategy.proximal_mu, order_seed=round_seed(config.seed, t),
            )
        params, delta = server.step(params, strategy.aggregate(updates, shapes))
        history.train_seconds += time.perf_counter() - started
        history.client_updates += len(updates)
        if on_updates is not None:
            on_updates(t, updates)
        history.rounds.append(t + 1)
        history.sampled.append(len(plan.sampled))
        history.dropped.append(len(plan.dropped))
        if len(plan.dropped):
            log.debug("round %d: %d of %d sampled clients dropped out", t + 1,
                      len(plan.dropped), len(plan.sampled))
        norm = torch.sqrt(sum((d.double() ** 2).sum() for d in delta.values()))
        history.update_norm.append(float(norm) / lr)
        if evaluate is not None and ((t + 1) % config.eval_every == 0 or t + 1 == config.rounds):
            history.eval_rounds.append(t + 1)
            history.eval_metric.append(float(evaluate(params)))
            bar.set_postfix(metric=f"{history.eval_metric[-1]:.4f}")
    history.params = params
    if config.dropout:
        log.info("%s: %d sampled clients dropped out over %d rounds (dropout %.0f%%)",
                 strategy.name, sum(history.dropped), config.rounds, 100 * config.dropout)
    return history
