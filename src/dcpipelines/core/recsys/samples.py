"""Click samples as tensors, grouped by user, and per-user padded views of them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from dcpipelines.core.recsys.split import click_tensors

SAMPLE_FIELDS = ("item", "history", "label")


@dataclass
class ClickSamples:
    """Rows of a click log, grouped by user in ``user_ids`` order (each user's rows contiguous)."""

    item: torch.Tensor  # (n,) global item ids
    history: torch.Tensor  # (n, L) earlier clicked ids, right-padded with 0
    label: torch.Tensor  # (n,) float 0/1
    owner: torch.Tensor  # (n,) index into user_ids
    user_ids: np.ndarray  # (U,) the click log's user ids
    num_items: int

    @property
    def num_users(self) -> int:
        """How many users the samples belong to."""
        return len(self.user_ids)

    def offsets(self) -> torch.Tensor:
        """(U + 1,) start of each user's rows; user u owns rows offsets[u]:offsets[u + 1]."""
        counts = torch.bincount(self.owner, minlength=self.num_users)
        return torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])

    def gather(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """The fields of the rows at ``index`` (any shape), e.g. (U, k) -> item (U, k), ..."""
        return {"item": self.item[index], "history": self.history[index],
                "label": self.label[index]}

    def of_user(self, user: int) -> ClickSamples:
        """User ``user``'s rows alone, as a one-user set (what that device holds)."""
        rows = self.owner == user
        return ClickSamples(self.item[rows], self.history[rows], self.label[rows],
                            torch.zeros(int(rows.sum()), dtype=torch.long),
                            self.user_ids[user:user + 1], self.num_items)

    def per_user(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(U, Nmax) row index of each user's rows (padded with the user's first row), counts."""
        offsets = self.offsets()
        counts = offsets[1:] - offsets[:-1]
        steps = torch.arange(int(counts.max()))
        index = offsets[:-1, None] + torch.minimum(steps[None, :], (counts - 1).clamp(min=0)[:, None])
        return index, counts


def samples_from_rows(
    rows: pd.DataFrame, user_ids: np.ndarray, max_history: int, num_items: int
) -> ClickSamples:
    """Tensors of ``rows`` (sorted by user_id, position) for the users in ``user_ids``."""
    rows = rows[rows["user_id"].isin(user_ids)]
    features, labels = click_tensors(rows, max_history)
    owner = np.searchsorted(user_ids, rows["user_id"].to_numpy())
    return ClickSamples(features["item"], features["history"], labels,
                        torch.from_numpy(owner.astype(np.int64)), np.asarray(user_ids), num_items)


def stack_user_sets(parts: list[dict[str, torch.Tensor]], masks: list[torch.Tensor]
                    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Join per-user sample sets (each field (U, n_i, ...)) along the sample axis.

    ``masks`` (U, n_i) mark the real samples of each part. Returns the fields compacted so that
    each user's real samples come first, and the count of real samples per user; the slots
    past the count hold masked-out samples, never drawn (draws stay below the count).
    """
    fields = {f: torch.cat([p[f] for p in parts], dim=1) for f in SAMPLE_FIELDS}
    mask = torch.cat(masks, dim=1)
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)
    counts = mask.sum(1)
    fields = {f: _take_rows(v, order) for f, v in fields.items()}
    return fields, counts


def _take_rows(values: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    index = order.reshape(order.shape + (1,) * (values.dim() - 2)).expand_as(values)
    return values.gather(1, index)
