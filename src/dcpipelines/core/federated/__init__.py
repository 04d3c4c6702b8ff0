"""Federated learning engine: client partitions, batched local SGD, strategies, simulation.

Client side: :mod:`clients` (private partitions), :mod:`local` (local SGD for a cohort).
Server side: :mod:`strategies` (FedAvg, FedProx, FedSubAvg), :mod:`engine` (rounds).
Only :class:`ClientUpdate` objects cross from the client side to the server side.
Flower lives behind :mod:`flower_adapter` only (imported on demand).
"""

from dcpipelines.core.federated.clients import (
    ClientPartition,
    dirichlet_label_split,
    make_client,
    row_density,
)
from dcpipelines.core.federated.engine import (
    History,
    SimulationConfig,
    plan_round,
    run_federated,
)
from dcpipelines.core.federated.local import LocalConfig, train_cohort
from dcpipelines.core.federated.strategies import (
    FedAvg,
    FedProx,
    FedSubAvg,
    Strategy,
    make_strategy,
    row_heat,
)
from dcpipelines.core.federated.updates import ClientUpdate, SparseRows

__all__ = [
    "ClientPartition",
    "ClientUpdate",
    "FedAvg",
    "FedProx",
    "FedSubAvg",
    "History",
    "LocalConfig",
    "SimulationConfig",
    "SparseRows",
    "Strategy",
    "dirichlet_label_split",
    "make_client",
    "make_strategy",
    "plan_round",
    "row_density",
    "row_heat",
    "run_federated",
    "train_cohort",
]
