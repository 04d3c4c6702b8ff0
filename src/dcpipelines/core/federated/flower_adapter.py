"""The engine's strategies and local training under Flower 1.42 (Message API, Ray backend).

This is the only module that imports ``flwr``: Flower's API moves often, so it stays here.
The client side runs the same :func:`train_cohort` (a cohort of one) as the in-process
engine; the server side wraps an engine :class:`Strategy` in a Flower strategy whose
``aggregate_train`` decodes the replies into :class:`ClientUpdate` objects and calls the
engine strategy. Sparse tables travel as ``<name>#rows`` (row ids) and ``<name>#delta``.

Scale-out: start Ray on the machines (``ray start --head`` on one, ``ray start
--address=<head>:6379`` on the others), then pass ``ray_address="auto"``.

Differences from the in-process engine: Flower samples the nodes of a round itself
(``random.sample``, not our seed), so the two agree round by round only with full
participation; client dropout is not simulated here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg as FlowerFedAvg
from flwr.simulation import run_simulation
from torch import nn

from dcpipelines.core.federated.clients import ClientPartition
from dcpipelines.core.federated.engine import SimulationConfig, apply_delta, round_seed
from dcpipelines.core.federated.local import PerSampleLoss, train_cohort
from dcpipelines.core.federated.strategies import Strategy
from dcpipelines.core.federated.updates import ClientUpdate, SparseRows

ROWS, DELTA = "#rows", "#delta"


def encode_update(update: ClientUpdate) -> RecordDict:
    """A client's update as a Flower reply: deltas in an ArrayRecord, counts as metrics."""
    arrays = {name: t.detach() for name, t in update.dense.items()}
    for name, rows in update.sparse.items():
        arrays[name + ROWS] = rows.row_ids
        arrays[name + DELTA] = rows.values.detach()
    metrics = MetricRecord({"num-examples": update.num_samples, "client-id": update.client_id})
    return RecordDict({"arrays": ArrayRecord(arrays), "metrics": metrics})


def decode_update(content: RecordDict) -> ClientUpdate:
    """The client update a Flower reply carries."""
    arrays = content["arrays"].to_torch_state_dict()
    metrics = content["metrics"]
    dense = {k: v for k, v in arrays.items() if not k.endswith((ROWS, DELTA))}
    sparse = {
        k[: -len(ROWS)]: SparseRows(v.long(), arrays[k[: -len(ROWS)] + DELTA])
        for k, v in arrays.items() if k.endswith(ROWS)
    }
    return ClientUpdate(int(metrics["client-id"]), int(metrics["num-examples"]), dense, sparse)


class EngineStrategy(FlowerFedAvg):
    """A Flower strategy that aggregates with an engine :class:`Strategy`."""

    def __init__(self, strategy: Strategy, shapes: Mapping[str, torch.Size],
                 num_clients: int, clients_per_round: int) -> None:
        super().__init__(
            fraction_train=clients_per_round / num_clients, fraction_evaluate=0.0,
            min_train_nodes=min(clients_per_round, num_clients),
            min_available_nodes=num_clients,
        )
        self.strategy = strategy
        self.shapes = dict(shapes)
        self._current: dict[str, torch.Tensor] = {}

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                        grid: Grid) -> Iterable[Message]:
        self._current = arrays.to_torch_state_dict()
        return super().configure_train(server_round, arrays, config, grid)

    def aggregate_train(self, server_round: int, replies: Iterable[Message]
                        ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        # Flower's own consistency check would reject replies whose sparse keys differ.
        answered = [m for m in replies if not m.has_error()]
        updates = sorted((decode_update(m.content) for m in answered),
                         key=lambda u: u.client_id)
        delta = self.strategy.aggregate(updates, self.shapes)
        new = apply_delta(self._current, delta)
        return ArrayRecord(new), MetricRecord({"answered": len(updates)})


def make_client_app(model: nn.Module, clients: Sequence[ClientPartition],
                    per_sample_loss: PerSampleLoss, config: SimulationConfig,
                    proximal_mu: float) -> ClientApp:
    """A ClientApp whose node with partition id i trains client i with the engine's code."""
    app = ClientApp()

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        client = clients[int(context.node_config["partition-id"])]
        params = msg.content["arrays"].to_torch_state_dict()
        t = int(msg.content["config"]["server-round"]) - 1
        torch.set_num_threads(1)
        update = train_cohort(
            model, params, [client], per_sample_loss, lr=config.lr * config.lr_decay**t,
            config=config.local, proximal_mu=proximal_mu, order_seed=round_seed(config.seed, t),
        )[0]
        return Message(encode_update(update), reply_to=msg)

    return app


@dataclass
class FlowerRun:
    params: dict[str, torch.Tensor]
    seconds: float
    client_updates: int


def run_flower_simulation(
    model: nn.Module,
    clients: Sequence[ClientPartition],
    strategy: Strategy,
    per_sample_loss: PerSampleLoss,
    config: SimulationConfig,
    *,
    num_cpus: int = 2,
    ray_address: str | None = None,
    on_round: Callable[[int, dict], None] | None = None,
) -> FlowerRun:
    """Train with Flower's ``run_simulation`` (Ray backend); returns the final parameters."""
    if config.dropout:
        raise ValueError("the Flower adapter does not simulate dropout; set dropout to 0")
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    shapes = {k: v.shape for k, v in params.items()}
    flower_strategy = EngineStrategy(strategy, shapes, len(clients), config.clients_per_round)
    outcome: dict = {}
    server = ServerApp()

    @server.main()
    def main(grid: Grid, context: Context) -> None:
        result = flower_strategy.start(grid, ArrayRecord(params), num_rounds=config.rounds)
        outcome["params"] = result.arrays.to_torch_state_dict()
        outcome["updates"] = sum(
            int(m["answered"]) for m in result.train_metrics_clientapp.values())

    init_args = {"address": ray_address} if ray_address else {
        "num_cpus": num_cpus, "include_dashboard": False}
    backend = {"client_resources": {"num_cpus": 1, "num_gpus": 0.0}, "init_args": init_args}
    started = time.perf_counter()
    run_simulation(server, make_client_app(model, clients, per_sample_loss, config,
                                           strategy.proximal_mu),
                   num_supernodes=len(clients), backend_name="ray", backend_config=backend)
    seconds = time.perf_counter() - started
    if "params" not in outcome:
        raise RuntimeError("the Flower simulation ended without a final model; see its log")
    return FlowerRun(outcome["params"], seconds, int(outcome["updates"]))


__all__ = ["EngineStrategy", "FlowerRun", "decode_update", "encode_update",
           "make_client_app", "run_flower_simulation"]
