"""Clients from a click log: one client per user, the user's last interactions held out.

The per-user split is :func:`dcpipelines.core.recsys.split.split_users`. Each user's last
``test_per_user`` rows form the test set, the ``validation_per_user`` rows before them the
validation set (global ids, evaluated on the server's full model; hyper-parameters are chosen
on validation only); the earlier rows stay on the user's device as its partition, with item
(and user) ids made local to its submodel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch

from dcpipelines.core.federated.clients import ClientPartition, make_client
from dcpipelines.core.recsys.split import click_tensors, split_users

ITEM_TABLE = "item_embedding.weight"
USER_TABLE = "user_embedding.weight"


@dataclass
class ClickClients:
    """Click-log clients with the held-out validation and test samples and the embedding table sizes."""
    clients: list[ClientPartition]
    test_features: dict[str, torch.Tensor]
    test_labels: torch.Tensor
    num_items: int  # rows of the item table (max id + 1; row 0 = padding)
    num_users: int = 0  # rows of the user table (users + 1; row 0 = padding); 0: no user ids
    validation_features: dict[str, torch.Tensor] = field(default_factory=dict)
    validation_labels: torch.Tensor = field(default_factory=lambda: torch.zeros(0))


def _tensors(rows: pd.DataFrame, max_history: int, user_index: dict | None):
    feats, labels = click_tensors(rows, max_history)
    if user_index is not None:
        feats["user"] = torch.tensor(rows["user_id"].map(user_index).to_numpy(), dtype=torch.long)
    return feats, labels


def build_click_clients(
    table: pd.DataFrame,
    *,
    test_per_user: int = 2,
    max_history: int = 20,
    num_users: int | None = None,
    seed: int = 0,
    validation_per_user: int = 0,
    user_ids: bool = False,
) -> ClickClients:
    """One client per user with more than ``test_per_user + validation_per_user`` rows.

    ``num_users`` keeps a seeded subset of users; ``user_ids`` adds each sample's user id
    (users numbered from 1 in id order) for a model with a user embedding table.
    """
    held = test_per_user + validation_per_user
    split = split_users(table, test_per_user=held, num_users=num_users, seed=seed)
    users = sorted(split.train["user_id"].unique())
    user_index = {u: i + 1 for i, u in enumerate(users)} if user_ids else None
    id_fields = {ITEM_TABLE: ["item", "history"]}
    if user_ids:
        id_fields[USER_TABLE] = ["user"]
    clients = []
    for client_id, (_, rows) in enumerate(split.train.groupby("user_id", sort=True)):
        feats, labels = _tensors(rows, max_history, user_index)
        clients.append(make_client(client_id, feats, labels, id_fields))
    is_test = split.test.groupby("user_id").cumcount(ascending=False) < test_per_user
    test_features, test_labels = _tensors(split.test[is_test], max_history, user_index)
    val_features, val_labels = _tensors(split.test[~is_test], max_history, user_index)
    return ClickClients(clients, test_features, test_labels, num_items=split.num_items,
                        num_users=len(users) + 1 if user_ids else 0,
                        validation_features=val_features, validation_labels=val_labels)
