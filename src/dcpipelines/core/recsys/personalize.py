"""Per-user fine-tuning of the cloud's click model, every user at once (``torch.func.vmap``).

Each user's personal model is the cloud DIN with its own copy of the dense layers (attention
and head MLPs) and its own offsets to the embeddings of the candidate items in its training
set (the rest of the item table stays the shared, frozen cloud table). All users take the same
number of SGD steps on minibatches drawn from their own training set, so every variant gets
the same budget per user. :func:`finetune_one_user` is the plain one-user loop the batched
version must reproduce (and what one device would run).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap
from typing_extensions import override

from dcpipelines.core.recsys.din import DIN

DENSE_PREFIXES = ("attention.", "head.")


@dataclass
class UserSets:
    """Per-user training sets, padded: user u's real samples are its first ``count[u]``."""

    item: torch.Tensor  # (U, N)
    history: torch.Tensor  # (U, N, L)
    label: torch.Tensor  # (U, N)
    count: torch.Tensor  # (U,)


class _Scorer(nn.Module):
    """DIN's scoring part as a module whose forward takes embeddings (for functional_call)."""

    def __init__(self, model: DIN) -> None:
        super().__init__()
        self.din = model

    def forward(self, q: torch.Tensor, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.din.score(q, h, mask)


def item_slots(sets: UserSets, queries: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Each user's personal item slots: the distinct candidate items of its real samples.

    Returns the slot (1..R-1, 0 = no slot: the item keeps the cloud embedding) of every
    training candidate (U, N) and of every ``queries`` id (U, T), and R.
    """
    users, n = sets.item.shape
    real = torch.arange(n).unsqueeze(0) < sets.count.unsqueeze(1)
    span = int(max(sets.item.max(), queries.max())) + 1
    owner = torch.arange(users).unsqueeze(1)
    keys = torch.unique((owner * span + sets.item)[real])  # sorted
    starts = torch.searchsorted(keys, torch.arange(users) * span)
    sizes = torch.searchsorted(keys, torch.arange(1, users + 1) * span) - starts

    def slot(ids: torch.Tensor) -> torch.Tensor:
        key = owner * span + ids
        pos = torch.searchsorted(keys, key).clamp(max=len(keys) - 1)
        found = keys[pos] == key
        return torch.where(found, pos - starts.unsqueeze(1) + 1, torch.zeros_like(pos))

    return slot(sets.item), slot(queries), int(sizes.max()) + 1


def personal_params(model: DIN, users: int, slots: int) -> dict[str, torch.Tensor]:
    """Every user's starting point: the cloud's dense layers and zero item offsets."""
    dense = {k: v.detach().expand(users, *v.shape).clone()
             for k, v in model.named_parameters() if k.startswith(DENSE_PREFIXES)}
    dense["offset"] = torch.zeros(users, slots, model.item_embedding.embedding_dim)
    return dense


def _logits(scorer: _Scorer, params: dict[str, torch.Tensor], table: torch.Tensor,
            item: torch.Tensor, slot: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
    q = table[item] + params["offset"][slot] * (slot > 0).unsqueeze(-1).to(table.dtype)
    dense = {f"din.{k}": v for k, v in params.items() if k != "offset"}
    return functional_call(scorer, dense, (q, table[history], history != 0))


def _loss(scorer, params, table, item, slot, history, label) -> torch.Tensor:
    logits = _logits(scorer, params, table, item, slot, history)
    return F.binary_cross_entropy_with_logits(logits, label)


def draw_batches(count: torch.Tensor, steps: int, batch_size: int, seed: int) -> torch.Tensor:
    """(steps, U, B) sample positions, uniform over each user's real samples."""
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(steps, count.numel(), batch_size, generator=gen)
    return (u * count.view(1, -1, 1)).long()


def finetune_users(
    model: DIN, sets: UserSets, slots: torch.Tensor, num_slots: int, draws: torch.Tensor, *,
    lr: float, chunk: int = 512,
) -> dict[str, torch.Tensor]:
    """SGD on every user's personal parameters at once; ``draws`` from :func:`draw_batches`."""
    scorer = _Scorer(model)
    table = model.item_embedding.weight.detach()
    user_grad = vmap(grad(lambda p, *b: _loss(scorer, p, table, *b)))
    params = personal_params(model, sets.item.shape[0], num_slots)
    rows = torch.arange(sets.item.shape[0]).unsqueeze(1)
    for step in range(draws.shape[0]):
        idx = draws[step]
        batch = (sets.item[rows, idx], slots[rows, idx], sets.history[rows, idx],
                 sets.label[rows, idx])
        for lo in range(0, len(rows), chunk):
            part = {k: v[lo:lo + chunk] for k, v in params.items()}
            grads = user_grad(part, *(b[lo:lo + chunk] for b in batch))
            for k in params:
                params[k][lo:lo + chunk] -= lr * grads[k]
    return params


@torch.no_grad()
def predict_users(model: DIN, params: dict[str, torch.Tensor], item: torch.Tensor,
                  slot: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
    """(U, T) logits of each user's personal model on its own rows (item (U, T), ...)."""
    scorer = _Scorer(model)
    table = model.item_embedding.weight.detach()
    return vmap(lambda p, i, s, h: _logits(scorer, p, table, i, s, h))(params, item, slot, history)


def finetune_one_user(
    model: DIN, item: torch.Tensor, slot: torch.Tensor, history: torch.Tensor,
    label: torch.Tensor, num_slots: int, draws: torch.Tensor, *, lr: float,
) -> dict[str, torch.Tensor]:
    """One device's loop: plain autograd SGD on one user's samples (draws: (steps, B))."""
    table = model.item_embedding.weight.detach()
    params = {k: v.detach().clone().requires_grad_(True)
              for k, v in model.named_parameters() if k.startswith(DENSE_PREFIXES)}
    offset = torch.zeros(num_slots, table.shape[1], requires_grad=True)
    for idx in draws:
        s = slot[idx]
        q = table[item[idx]] + offset[s] * (s > 0).unsqueeze(-1).to(table.dtype)
        logits = _plain_score(params, q, table[history[idx]], history[idx] != 0)
        loss = F.binary_cross_entropy_with_logits(logits, label[idx])
        grads = torch.autograd.grad(loss, [*params.values(), offset])
        with torch.no_grad():
            for p, g in zip([*params.values(), offset], grads, strict=True):
                p -= lr * g
    return {**{k: v.detach() for k, v in params.items()}, "offset": offset.detach()}


def _plain_score(params, q, h, mask) -> torch.Tensor:
    """DIN's score written out with explicit weights (the reference for the batched path)."""
    def mlp(name: str, x: torch.Tensor) -> torch.Tensor:
        first = F.linear(x, params[f"{name}.0.weight"], params[f"{name}.0.bias"])
        return F.linear(torch.relu(first), params[f"{name}.2.weight"], params[f"{name}.2.bias"])

    qe = q.unsqueeze(-2).expand_as(h)
    scores = mlp("attention", torch.cat([h, qe, h - qe, h * qe], dim=-1)).squeeze(-1)
    weights = torch.softmax(scores.masked_fill(~mask, -1e9), dim=-1) * mask
    pooled = (weights.unsqueeze(-1) * h).sum(-2)
    return mlp("head", torch.cat([q, pooled, q * pooled], dim=-1)).squeeze(-1)


class PersonalDIN(nn.Module):
    """One user's personal click model as a plain module (what runs on that device).

    Input: (B, 1 + L) item ids, the candidate item then its history; output: (B,) logits.
    """

    def __init__(self, model: DIN, params: dict[str, torch.Tensor], items: torch.Tensor,
                 slots: torch.Tensor) -> None:
        super().__init__()
        self.din = copy.deepcopy(model).eval()
        self.din.load_state_dict({k: v for k, v in params.items() if k != "offset"}, strict=False)
        self.offset = nn.Parameter(params["offset"].clone())
        slot_of_item = torch.zeros(model.item_embedding.num_embeddings, dtype=torch.long)
        slot_of_item[items[slots > 0]] = slots[slots > 0]
        self.register_buffer("slot_of_item", slot_of_item)

    @override
    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        item, history = ids[:, 0], ids[:, 1:]
        table = self.din.item_embedding.weight
        slot = self.slot_of_item[item]
        q = table[item] + self.offset[slot] * (slot > 0).unsqueeze(-1).to(table.dtype)
        return self.din.score(q, table[history], history != 0)
