"""Clients from a click log: one client per user, the user's last interactions held out.

The per-user split is :func:`dcpipelines.core.recsys.split.split_users`. Each user's last
``test_per_user`` rows form the test set (global item ids, evaluated on the server's full
model); the earlier rows stay on the user's device as its partition, with item ids made local
to its submodel.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from dcpipelines.core.federated.clients import ClientPartition, make_client
from dcpipelines.core.recsys.split import click_tensors, split_users

ITEM_TABLE = "item_embedding.weight"


@dataclass
class ClickClients:
    clients: list[ClientPartition]
    test_features: dict[str, torch.Tensor]
    test_labels: torch.Tensor
    num_items: int  # rows of the item table (max id + 1; row 0 = padding)


def build_click_clients(
    table: pd.DataFrame,
    *,
    test_per_user: int = 2,
    max_history: int = 20,
    num_users: int | None = None,
    seed: int = 0,
) -> ClickClients:
    """One client per user with at least ``test_per_user + 1`` rows; optionally a seeded subset."""
    split = split_users(table, test_per_user=test_per_user, num_users=num_users, seed=seed)
    clients = []
    for client_id, (_, rows) in enumerate(split.train.groupby("user_id", sort=True)):
        feats, labels = click_tensors(rows, max_history)
        clients.append(make_client(client_id, feats, labels, {ITEM_TABLE: ["item", "history"]}))
    test_features, test_labels = click_tensors(split.test, max_history)
    return ClickClients(clients, test_features, test_labels, num_items=split.num_items)
