"""Clients from a click log: one client per user, the user's last interactions held out.

Input: the ``click_log`` primary table (label, user_id, position, item_id, history,
history_length), rows of a user in time order. Each user's last ``test_per_user`` rows form
the test set (global item ids, evaluated on the server's full model); the earlier rows stay on
the user's device as its partition, with item ids made local to its submodel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from dcpipelines.core.data.errors import DataValidationError
from dcpipelines.core.federated.clients import ClientPartition, make_client

CLICK_COLUMNS = ["label", "user_id", "position", "item_id", "history"]
ITEM_TABLE = "item_embedding.weight"


@dataclass
class ClickClients:
    clients: list[ClientPartition]
    test_features: dict[str, torch.Tensor]
    test_labels: torch.Tensor
    num_items: int  # rows of the item table (max id + 1; row 0 = padding)


def _history_matrix(history: pd.Series, max_history: int) -> torch.Tensor:
    """The most recent ``max_history`` clicked items per row, right-padded with 0."""
    out = np.zeros((len(history), max_history), dtype=np.int64)
    for i, text in enumerate(history.to_numpy()):
        if text:
            ids = np.asarray(text.split(","), dtype=np.int64)[-max_history:]
            out[i, : len(ids)] = ids
    return torch.from_numpy(out)


def check_click_log(table: pd.DataFrame) -> None:
    """Raise a DataValidationError naming the column and the fix when the click log lacks a field."""
    missing = [c for c in CLICK_COLUMNS if c not in table.columns]
    if missing:
        raise DataValidationError(
            "click_log", f"missing column(s) {missing}; found {list(table.columns)}",
            fix="run the ingest pipeline (kedro run --pipelines ingest) to rebuild click_log",
        )
    if table.empty:
        raise DataValidationError("click_log", "the table has no rows",
                                  fix="run the ingest pipeline on a non-empty click log")


def build_click_clients(
    table: pd.DataFrame,
    *,
    test_per_user: int = 2,
    max_history: int = 20,
    num_users: int | None = None,
    seed: int = 0,
) -> ClickClients:
    """One client per user with at least ``test_per_user + 1`` rows; optionally a seeded subset."""
    check_click_log(table)
    table = table.sort_values(["user_id", "position"], kind="stable")
    counts = table.groupby("user_id").size()
    users = counts.index[counts > test_per_user].to_numpy()
    if num_users is not None and num_users < len(users):
        users = np.sort(np.random.default_rng(seed).choice(users, num_users, replace=False))
    table = table[table["user_id"].isin(users)]
    rank_from_end = table.groupby("user_id").cumcount(ascending=False)
    is_test = rank_from_end < test_per_user
    num_items = int(max(table["item_id"].max(), _max_history_id(table["history"]))) + 1

    def tensors(part: pd.DataFrame) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        feats = {
            "item": torch.tensor(part["item_id"].to_numpy(np.int64)),
            "history": _history_matrix(part["history"], max_history),
        }
        return feats, torch.tensor(part["label"].to_numpy(np.float32))

    train = table[~is_test]
    clients = []
    for client_id, (_, rows) in enumerate(train.groupby("user_id", sort=True)):
        feats, labels = tensors(rows)
        clients.append(make_client(client_id, feats, labels, {ITEM_TABLE: ["item", "history"]}))
    test_features, test_labels = tensors(table[is_test])
    return ClickClients(clients, test_features, test_labels, num_items)


def _max_history_id(history: pd.Series) -> int:
    ids = history[history != ""].str.split(",").explode()
    return int(ids.astype(np.int64).max()) if len(ids) else 0
