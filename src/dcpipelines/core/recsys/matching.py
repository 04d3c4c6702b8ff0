"""CoDA's coarse-grained sample matching on the cloud, and what each device uploads for it.

A device reveals one vector: its *interest embedding*, the mean of the cloud model's item
embeddings over the items it clicked in its local samples (computed on the device with the
downloaded model). It carries no item id, label or count. The cloud represents each pool
sample the same way (mean embedding of the sample's click history and, for a click, its item)
and retrieves the pool samples closest to the interest embedding in cosine similarity,
skipping the requesting user's own logs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dcpipelines.core.recsys.samples import ClickSamples


def mean_embedding(table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Mean of the embeddings of the non-zero ids along the last axis (zeros when none)."""
    mask = (ids != 0).unsqueeze(-1).to(table.dtype)
    return (table[ids] * mask).sum(-2) / mask.sum(-2).clamp(min=1.0)


@torch.no_grad()
def interest_embeddings(table: torch.Tensor, local: ClickSamples) -> torch.Tensor:
    """(U, d): per user, the mean embedding of the items clicked in its local samples (device)."""
    clicked = local.label > 0
    sums = torch.zeros(local.num_users, table.shape[1]).index_add_(
        0, local.owner[clicked], table[local.item[clicked]])
    counts = torch.bincount(local.owner[clicked], minlength=local.num_users)
    return sums / counts.clamp(min=1).unsqueeze(1).to(table.dtype)


@torch.no_grad()
def pool_embeddings(table: torch.Tensor, pool: ClickSamples) -> torch.Tensor:
    """(n, d): per pool sample, the mean embedding of its history and (if clicked) its item."""
    clicked = torch.where(pool.label > 0, pool.item, torch.zeros_like(pool.item))
    return mean_embedding(table, torch.cat([pool.history, clicked.unsqueeze(1)], dim=1))


@torch.no_grad()
def coarse_match(
    interests: torch.Tensor, pool_vectors: torch.Tensor, pool_owner: torch.Tensor, k: int,
    chunk: int = 256,
) -> torch.Tensor:
    """(U, k) pool row indices, most similar first; user u never gets its own rows."""
    if k > pool_vectors.shape[0]:
        raise ValueError(f"coarse_match: k={k} exceeds the pool of {pool_vectors.shape[0]} rows")
    users = F.normalize(interests, dim=1)
    pool = F.normalize(pool_vectors, dim=1)
    out = []
    for start in range(0, users.shape[0], chunk):
        sims = users[start:start + chunk] @ pool.T
        own = pool_owner.unsqueeze(0) == torch.arange(start, start + sims.shape[0]).unsqueeze(1)
        sims.masked_fill_(own, float("-inf"))
        out.append(torch.topk(sims, k, dim=1).indices)
    return torch.cat(out)


def random_outside(pool: ClickSamples, k: int, generator: torch.Generator) -> torch.Tensor:
    """(U, k) pool rows drawn uniformly (with replacement) from other users' rows."""
    offsets = pool.offsets()
    counts = (offsets[1:] - offsets[:-1]).unsqueeze(1)
    n = pool.label.numel()
    draws = (torch.rand(pool.num_users, k, generator=generator) * (n - counts)).long()
    return draws + (draws >= offsets[:-1].unsqueeze(1)) * counts
