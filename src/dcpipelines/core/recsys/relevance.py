"""A ground truth for the sample filter: is a retrieved sample relevant to the user's future?

A retrieved pool sample counts as relevant when the user who produced it also clicked (in the
pool) one of the items the requesting user clicks in its held-out test rows: the two users
share a future interest. Neither the cloud nor the device sees the test rows when matching or
filtering, so this measures both against behaviour they could not use.
"""

from __future__ import annotations

import torch

from dcpipelines.core.recsys.samples import ClickSamples


def relevant_retrieved(pool: ClickSamples, test: ClickSamples, rows: torch.Tensor) -> torch.Tensor:
    """(U, k) bool for the pool ``rows`` (U, k) retrieved for each user of ``test``."""
    span = int(max(pool.item.max(), test.item.max())) + 1
    clicked = pool.label > 0
    keys = torch.unique(pool.owner[clicked] * span + pool.item[clicked])
    index, _ = test.per_user()
    items = torch.where(test.label[index] > 0, test.item[index], torch.zeros_like(index))
    query = pool.owner[rows].unsqueeze(-1) * span + items.unsqueeze(1)  # (U, k, T)
    pos = torch.searchsorted(keys, query).clamp(max=len(keys) - 1)
    hit = (keys[pos] == query) & (items.unsqueeze(1) > 0)
    return hit.any(-1)
