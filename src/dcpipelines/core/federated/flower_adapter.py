"""The engine's strategies and local training under Flower 1.42 (Message API, Ray backend).

This is the only module that imports ``flwr``: Flower's API moves often, so it stays here.
The client side runs the same :func:`train_cohort` (a cohort of one) as the in-process
engine; the server side wraps an engine :class:`Strategy` in a Flower strategy whose
``aggregate_train`` decodes the replies into :class:`ClientUpdate` objects and calls the
engine strategy. Sparse tables travel as ``<name>#rows`` (row ids) and ``<name>#delta``.

Scale-out: start Ray on the machines (``ray start --head`` on one, ``ray start
--address=<head>:6379`` on the others), then pass ``ray_address="auto"``.

Parity with the in-process engine: the server first asks every node for its partition id
(a query message), then samples each round's clients and drops with the engine's own
:func:`plan_round` and seed, sends the training message only to the clients that answer,
and steps the global model with the engine's :class:`ServerOptimizer`. The same config
therefore gives the same model as :func:`run_federated` (up to float summation order).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch
from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    MessageType,
    MetricRecord,
    RecordDict,
)
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg as FlowerFedAvg
from flwr.simulation import run_simulation
from torch import nn

from dcpipelines.core.federated.clients import ClientPartition
from dcpipelines.core.federated.engine import (
    Evaluate,
    History,
    ServerOptimizer,
    SimulationConfig,
    plan_round,
    round_seed,
)
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
    """A Flower strategy that samples, drops and aggregates like the in-process engine."""

    def __init__(self, strategy: Strategy, shapes: Mapping[str, torch.Size],
                 num_clients: int, config: SimulationConfig) -> None:
        super().__init__(fraction_train=1.0, fraction_evaluate=0.0,
                         min_available_nodes=num_clients)
        self.strategy = strategy
        self.shapes = dict(shapes)
        self.config = config
        self.num_clients = num_clients
        self.rng = np.random.default_rng(config.seed)  # the engine's sampling stream
        self.server = ServerOptimizer(config.server_lr, config.server_momentum)
        self.node_of: dict[int, int] = {}  # partition id -> Flower node id
        self.history = History()
        self._current: dict[str, torch.Tensor] = {}

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                        grid: Grid) -> Iterable[Message]:
        """Sample the round as the in-process engine does and send the global model to the answering clients."""
        self._current = arrays.to_torch_state_dict()
        plan = plan_round(self.num_clients, self.config.clients_per_round, self.config.dropout,
                          self.rng)
        self.history.rounds.append(server_round)
        self.history.sampled.append(len(plan.sampled))
        self.history.dropped.append(len(plan.dropped))
        config["server-round"] = server_round
        record = RecordDict({"arrays": arrays, "config": config})
        return [Message(content=record, message_type=MessageType.TRAIN,
                        dst_node_id=self.node_of[int(i)]) for i in plan.answering]

    def aggregate_train(self, server_round: int, replies: Iterable[Message]
                        ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Aggregate the replies with the strategy, step the server optimiser and evaluate centrally."""
        # Flower's own consistency check would reject replies whose sparse keys differ.
        answered = [m for m in replies if not m.has_error()]
        updates = sorted((decode_update(m.content) for m in answered),
                         key=lambda u: u.client_id)
        new, moved = self.server.step(self._current, self.strategy.aggregate(updates, self.shapes))
        norm = torch.sqrt(sum((d.double() ** 2).sum() for d in moved.values()))
        lr = self.config.lr * self.config.lr_decay ** (server_round - 1)
        self.history.update_norm.append(float(norm) / lr)
        self.history.client_updates += len(updates)
        return ArrayRecord(new), MetricRecord({"answered": len(updates)})


def _partition_ids(grid: Grid, num_clients: int) -> dict[int, int]:
    """Ask every node for its partition id; returns partition id -> node id."""
    while len(nodes := list(grid.get_node_ids())) < num_clients:
        time.sleep(0.1)
    replies = grid.send_and_receive([
        Message(content=RecordDict({}), message_type=MessageType.QUERY, dst_node_id=n)
        for n in nodes])
    return {int(m.content["metrics"]["partition-id"]): m.metadata.src_node_id for m in replies}


def make_client_app(model: nn.Module, clients: Sequence[ClientPartition],
                    per_sample_loss: PerSampleLoss, config: SimulationConfig,
                    proximal_mu: float) -> ClientApp:
    """A ClientApp whose node with partition id i trains client i with the engine's code."""
    app = ClientApp()

    @app.query()
    def query(msg: Message, context: Context) -> Message:
        partition = int(context.node_config["partition-id"])
        return Message(RecordDict({"metrics": MetricRecord({"partition-id": partition})}),
                       reply_to=msg)

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        client = clients[int(context.node_config["partition-id"])]
        params = msg.content["arrays"].to_torch_state_dict()
        t = int(msg.content["config"]["server-round"]) - 1
        # a Ray worker follows the project's one thread rule (settings.py): one thread unless
        # OMP_NUM_THREADS is exported
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        update = train_cohort(
            model, params, [client], per_sample_loss, lr=config.lr * config.lr_decay**t,
            config=config.local, proximal_mu=proximal_mu, order_seed=round_seed(config.seed, t),
        )[0]
        return Message(encode_update(update), reply_to=msg)

    return app


def run_flower_simulation(
    model: nn.Module,
    clients: Sequence[ClientPartition],
    strategy: Strategy,
    per_sample_loss: PerSampleLoss,
    config: SimulationConfig,
    evaluate: Evaluate | None = None,
    *,
    num_cpus: int = 2,
    ray_address: str | None = None,
) -> History:
    """:func:`run_federated` under Flower's ``run_simulation`` (Ray backend): same arguments,
    same :class:`History` (``history.params``: the final model)."""
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    shapes = {k: v.shape for k, v in params.items()}
    flower_strategy = EngineStrategy(strategy, shapes, len(clients), config)
    history = flower_strategy.history
    server = ServerApp()

    def central_evaluation(server_round: int, arrays: ArrayRecord) -> MetricRecord | None:
        if evaluate is None or server_round == 0:
            return None
        if server_round % config.eval_every and server_round != config.rounds:
            return None
        history.eval_rounds.append(server_round)
        history.eval_metric.append(float(evaluate(arrays.to_torch_state_dict())))
        return MetricRecord({"metric": history.eval_metric[-1]})

    @server.main()
    def main(grid: Grid, context: Context) -> None:
        flower_strategy.node_of = _partition_ids(grid, len(clients))
        result = flower_strategy.start(grid, ArrayRecord(params), num_rounds=config.rounds,
                                       evaluate_fn=central_evaluation)
        history.params = result.arrays.to_torch_state_dict()

    init_args = {"address": ray_address} if ray_address else {
        "num_cpus": num_cpus, "include_dashboard": False}
    backend = {"client_resources": {"num_cpus": 1, "num_gpus": 0.0}, "init_args": init_args}
    started = time.perf_counter()
    run_simulation(server, make_client_app(model, clients, per_sample_loss, config,
                                           strategy.proximal_mu),
                   num_supernodes=len(clients), backend_name="ray", backend_config=backend)
    history.train_seconds = time.perf_counter() - started
    if not history.params:
        raise RuntimeError("the Flower simulation ended without a final model; see its log")
    return history


__all__ = ["EngineStrategy", "decode_update", "encode_update", "make_client_app",
           "run_flower_simulation"]
