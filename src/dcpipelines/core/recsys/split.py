"""Per-user train/test split of a click log, and its rows as model tensors.

Input: the ``click_log`` primary table (label, user_id, position, item_id, history,
history_length), rows of a user in time order. Each user's last ``test_per_user`` rows form
that user's test set; the earlier rows are the user's training samples (on the user's device,
and in the cloud's logs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from dcpipelines.core.data.errors import DataValidationError

CLICK_COLUMNS = ["label", "user_id", "position", "item_id", "history"]


@dataclass
class UserSplit:
    """The click log split per user into earlier (train) and last (test) interactions."""
    train: pd.DataFrame  # every kept user's earlier rows, sorted by (user_id, position)
    test: pd.DataFrame  # every kept user's last ``test_per_user`` rows, same order
    num_items: int  # rows of an item table covering every id (max id + 1; row 0 = padding)


def check_click_log(table: pd.DataFrame) -> None:
    """Fail with the missing columns (or an empty table) and how to rebuild the table."""
    missing = [c for c in CLICK_COLUMNS if c not in table.columns]
    if missing:
        raise DataValidationError(
            "click_log", f"missing column(s) {missing}; found {list(table.columns)}",
            fix="run the ingest pipeline (kedro run --pipelines ingest) to rebuild click_log",
        )
    if table.empty:
        raise DataValidationError("click_log", "the table has no rows",
                                  fix="run the ingest pipeline on a non-empty click log")


def split_users(
    table: pd.DataFrame, *, test_per_user: int = 2, num_users: int | None = None, seed: int = 0,
) -> UserSplit:
    """Users with at least ``test_per_user + 1`` rows (optionally a seeded subset), split in time."""
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
    return UserSplit(table[~is_test], table[is_test], num_items)


def history_matrix(history: pd.Series, max_history: int) -> torch.Tensor:
    """The most recent ``max_history`` clicked items per row, right-padded with 0."""
    out = np.zeros((len(history), max_history), dtype=np.int64)
    for i, text in enumerate(history.to_numpy()):
        if text:
            ids = np.asarray(text.split(","), dtype=np.int64)[-max_history:]
            out[i, : len(ids)] = ids
    return torch.from_numpy(out)


def click_tensors(
    rows: pd.DataFrame, max_history: int
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Model features ``{"item": (n,), "history": (n, L)}`` and float labels (n,) of ``rows``."""
    features = {
        "item": torch.tensor(rows["item_id"].to_numpy(np.int64)),
        "history": history_matrix(rows["history"], max_history),
    }
    return features, torch.tensor(rows["label"].to_numpy(np.float32))


def _max_history_id(history: pd.Series) -> int:
    ids = history[history != ""].str.split(",").explode()
    return int(ids.astype(np.int64).max()) if len(ids) else 0
