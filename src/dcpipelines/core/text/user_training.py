"""Training and scoring of :class:`~dcpipelines.core.text.prefix_lm.PrefixLM` models.

Two shapes of training:

- one shared model on pooled samples, each sample with its own user embedding (zeros for the
  central model, a sampled embedding for the personalised cloud model);
- one model copy per user (on-device fine-tuning), all users at once: the copies' weights are
  stacked along a leading user axis and the model runs under ``torch.func.vmap``, so a step
  for 100 users is one batched computation, not 100 models in a Python loop.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.func import functional_call, stack_module_state, vmap

from dcpipelines.core.text.prefix_lm import PrefixLM, mean_loss, sample_scores


@dataclass
class UserSamples:
    """Encoded samples and the user (0..num_users-1) each came from; device-side data."""

    inputs: torch.Tensor   # (N, T) token ids
    targets: torch.Tensor  # (N,) labels, or (N, T) next tokens
    users: torch.Tensor    # (N,) user index
    num_users: int

    def __len__(self) -> int:
        return len(self.users)

    def index_matrix(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(U, M) sample indices per user, padded with 0, and the (U, M) mask of real ones."""
        per_user = [torch.nonzero(self.users == u).flatten() for u in range(self.num_users)]
        width = max(1, max(len(p) for p in per_user))
        index = torch.zeros(self.num_users, width, dtype=torch.long)
        mask = torch.zeros(self.num_users, width, dtype=torch.bool)
        for u, rows in enumerate(per_user):
            index[u, : len(rows)] = rows
            mask[u, : len(rows)] = True
        return index, mask


def user_minibatch(index: torch.Tensor, mask: torch.Tensor, batch: int,
                   generator: torch.Generator) -> torch.Tensor:
    """(U, batch) sample indices, drawn uniformly (with replacement) from each user's own."""
    counts = mask.sum(1).clamp(min=1)
    picks = (torch.rand(index.shape[0], batch, generator=generator) * counts[:, None]).long()
    return torch.gather(index, 1, picks)


def zero_prefix(model: PrefixLM, n: int) -> torch.Tensor:
    """The all-zero user embedding (what a new user gets) for ``n`` inputs."""
    return torch.zeros(n, model.n_prefix, model.dim)


def train_shared(model: PrefixLM, inputs: torch.Tensor, targets: torch.Tensor,
                 prefixes: torch.Tensor | None, *, steps: int, batch: int, lr: float,
                 seed: int, losses: list[float] | None = None) -> PrefixLM:
    """AdamW on random minibatches of the pooled samples; ``prefixes`` None means zeros.
    ``losses``, when given, receives the minibatch loss of every step."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    model.train()
    for _ in range(steps):
        rows = torch.randint(len(inputs), (batch,), generator=generator)
        prefix = zero_prefix(model, batch) if prefixes is None else prefixes[rows]
        loss = mean_loss(model(inputs[rows], prefix), targets[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if losses is not None:
            losses.append(float(loss.detach()))
    return model.eval()


@torch.no_grad()
def score_shared(model: PrefixLM, inputs: torch.Tensor, targets: torch.Tensor,
                 prefixes: torch.Tensor | None, chunk: int = 512) -> dict[str, torch.Tensor]:
    """Per sample: ``correct``, ``count`` (scored targets) and ``pred`` (classes; -1 otherwise)."""
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {"correct": [], "count": [], "pred": []}
    for start in range(0, len(inputs), chunk):
        sl = slice(start, start + chunk)
        prefix = zero_prefix(model, len(inputs[sl])) if prefixes is None else prefixes[sl]
        logits = model(inputs[sl], prefix)
        _, correct, count = sample_scores(logits, targets[sl])
        pred = logits.argmax(-1) if logits.dim() == 2 else torch.full_like(count, -1).long()
        for key, value in zip(parts, (correct, count, pred), strict=True):
            parts[key].append(value)
    return {key: torch.cat(values) for key, values in parts.items()}


def _per_user_forward(model: PrefixLM) -> Callable:
    """f(stacked params, (U, B, T) ids) -> per-user logits, with one weight set per user."""
    template = copy.deepcopy(model).to("meta")

    def one(params: dict, ids: torch.Tensor) -> torch.Tensor:
        prefix = torch.zeros(ids.shape[0], model.n_prefix, model.dim)
        return functional_call(template, params, (ids, prefix))

    return vmap(one)


def _per_user_losses(forward: Callable, params: dict, data: UserSamples, index: torch.Tensor,
                     mask: torch.Tensor, chunk: int = 64) -> tuple[torch.Tensor, ...]:
    """Summed loss, correct and count per (user, slot) of ``index``, in chunks of slots."""
    outs = []
    for start in range(0, index.shape[1], chunk):
        rows = index[:, start : start + chunk]
        logits = forward(params, data.inputs[rows])
        flat_t = data.targets[rows].flatten(0, 1)
        flat_l = logits.flatten(0, 1)
        scores = sample_scores(flat_l, flat_t)
        outs.append([s.reshape(rows.shape) for s in scores])
    loss, correct, count = (torch.cat(parts, 1) for parts in zip(*outs, strict=True))
    m = mask.float()
    return loss * m, correct * m, count * m


def keep_best(best: dict[str, torch.Tensor], current: dict[str, torch.Tensor],
              improved: torch.Tensor) -> None:
    """Copy the users whose validation loss improved from ``current`` into ``best``."""
    for name, value in current.items():
        shape = (-1,) + (1,) * (value.dim() - 1)
        best[name] = torch.where(improved.reshape(shape), value.detach(), best[name])


def fine_tune_per_user(model: PrefixLM, train: UserSamples, val: UserSamples, *, steps: int,
                       batch: int, lr: float, eval_every: int, seed: int) -> dict[str, torch.Tensor]:
    """Each user fine-tunes its own copy of ``model`` on its own samples, all users batched.

    Returns the stacked weights (leading axis = user), each user's copy taken at the step
    with its lowest loss on its own validation samples (checked every ``eval_every`` steps).
    """
    params, _ = stack_module_state([model] * train.num_users)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    forward = _per_user_forward(model)
    optimizer = torch.optim.AdamW(list(params.values()), lr=lr, weight_decay=0.01)
    generator = torch.Generator().manual_seed(seed)
    index, mask = train.index_matrix()
    val_index, val_mask = val.index_matrix()

    def val_loss() -> torch.Tensor:
        with torch.no_grad():
            loss, _, count = _per_user_losses(forward, params, val, val_index, val_mask)
        return loss.sum(1) / count.sum(1).clamp(min=1)

    best = {k: v.detach().clone() for k, v in params.items()}
    best_loss = val_loss()
    for step in range(1, steps + 1):
        rows = user_minibatch(index, mask, batch, generator)
        logits = forward(params, train.inputs[rows])
        loss, _, count = sample_scores(logits.flatten(0, 1), train.targets[rows].flatten(0, 1))
        per_user = loss.reshape(rows.shape).sum(1) / count.reshape(rows.shape).sum(1).clamp(min=1)
        optimizer.zero_grad()
        per_user.sum().backward()  # users share no weights: each gets its own gradient
        optimizer.step()
        if step % eval_every == 0 or step == steps:
            current = val_loss()
            improved = current < best_loss
            keep_best(best, params, improved)
            best_loss = torch.where(improved, current, best_loss)
    return best


@torch.no_grad()
def score_per_user(model: PrefixLM, params: dict[str, torch.Tensor],
                   data: UserSamples) -> dict[str, torch.Tensor]:
    """Per sample of ``data``: correct, count, pred, each user scored by its own weights."""
    forward = _per_user_forward(model)
    index, mask = data.index_matrix()
    out = {"correct": torch.zeros(len(data)), "count": torch.zeros(len(data)),
           "pred": torch.full((len(data),), -1, dtype=torch.long)}
    for start in range(0, index.shape[1], 64):
        rows, keep = index[:, start : start + 64], mask[:, start : start + 64]
        logits = forward(params, data.inputs[rows])
        _, correct, count = sample_scores(logits.flatten(0, 1), data.targets[rows].flatten(0, 1))
        flat_rows, flat_keep = rows.flatten(), keep.flatten()
        out["correct"][flat_rows[flat_keep]] = correct[flat_keep]
        out["count"][flat_rows[flat_keep]] = count[flat_keep]
        if logits.dim() == 3:  # (users, batch, classes): a classifier
            out["pred"][flat_rows[flat_keep]] = logits.flatten(0, 1).argmax(-1)[flat_keep]
    return out
