"""Client-side local SGD, run for a whole cohort of clients at once.

Each sampled client trains its own copy of the model on its own data. Instead of one process
(or one Python loop) per client, the cohort's parameters are stacked along a leading client
axis and one ``torch.func.vmap`` step updates every client together. Sparse tables are
stacked as each client's submodel: only the rows its data involve (padded to the largest
submodel of the cohort with the padding row). Only :class:`ClientUpdate` objects leave.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from dcpipelines.core.federated.clients import ClientPartition
from dcpipelines.core.federated.updates import ClientUpdate, SparseRows

PerSampleLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class LocalConfig:
    """Local training of one round: epochs E, batch size B, learning rate."""

    epochs: int = 1
    batch_size: int = 4
    max_steps: int | None = None  # optional cap on local steps per round


def _pad_stack(tensors: Sequence[torch.Tensor], length: int) -> torch.Tensor:
    out = tensors[0].new_zeros((len(tensors), length, *tensors[0].shape[1:]))
    for i, t in enumerate(tensors):
        out[i, : t.shape[0]] = t
    return out


def client_generator(order_seed: int, client_id: int) -> torch.Generator:
    """The generator of one client's batch order in one round: independent of the cohort."""
    return torch.Generator().manual_seed(order_seed * 1_000_003 + client_id)


def _batch_plan(
    sizes: Sequence[int], config: LocalConfig, generators: Sequence[torch.Generator]
) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """Sample indices (C, S, B), weights (C, S, B) and step counts of every client."""
    b = config.batch_size
    steps = [config.epochs * math.ceil(n / b) for n in sizes]
    if config.max_steps is not None:
        steps = [min(s, config.max_steps) for s in steps]
    s_max = max(steps)
    index = torch.zeros((len(sizes), s_max, b), dtype=torch.long)
    weight = torch.zeros((len(sizes), s_max, b))
    for c, n in enumerate(sizes):
        order = torch.cat(
            [_epoch_order(n, b, generators[c]) for _ in range(config.epochs)]
        )[: steps[c] * b]
        flat_w = (order >= 0).float()
        index[c, : steps[c]] = order.clamp(min=0).view(steps[c], b)
        weight[c, : steps[c]] = flat_w.view(steps[c], b)
    return index, weight, steps


def _epoch_order(n: int, b: int, generator: torch.Generator) -> torch.Tensor:
    """A shuffled pass over n samples, padded with -1 to whole batches."""
    perm = torch.randperm(n, generator=generator)
    pad = (-n) % b
    return torch.cat([perm, torch.full((pad,), -1, dtype=torch.long)])


def train_cohort(
    model: nn.Module,
    global_params: Mapping[str, torch.Tensor],
    clients: Sequence[ClientPartition],
    per_sample_loss: PerSampleLoss,
    *,
    lr: float,
    config: LocalConfig,
    proximal_mu: float = 0.0,
    order_seed: int,
) -> list[ClientUpdate]:
    """Local SGD on every client of the cohort at once; returns one update per client.

    Client c shuffles its samples with :func:`client_generator` (order_seed, c), so a
    client's local training does not depend on which other clients share its cohort.
    """
    # Clients with more local steps first: step s then runs on a prefix of the cohort only.
    order = sorted(range(len(clients)), key=lambda c: -clients[c].num_samples)
    clients = [clients[c] for c in order]
    sparse_tables = set(clients[0].rows)
    start = _download(global_params, clients, sparse_tables)
    params = {k: v.clone() for k, v in start.items()}

    sizes = [c.num_samples for c in clients]
    n_max = max(sizes)
    data = {f: _pad_stack([c.features[f] for c in clients], n_max) for f in clients[0].features}
    labels = _pad_stack([c.labels for c in clients], n_max)
    generators = [client_generator(order_seed, c.client_id) for c in clients]
    index, weight, steps = _batch_plan(sizes, config, generators)

    def client_loss(p, p0, x, y, w):
        out = functional_call(model, p, (x,))
        total = w.sum()
        loss = (per_sample_loss(out, y) * w).sum() / total.clamp(min=1.0)
        if proximal_mu > 0:
            prox = sum(((p[k] - p0[k]) ** 2).sum() for k in p)
            loss = loss + 0.5 * proximal_mu * prox * (total > 0)
        return loss

    step = vmap(grad(client_loss))
    for s in range(index.shape[1]):
        a = sum(1 for n in steps if n > s)  # clients still training (a prefix)
        rows = torch.arange(a).unsqueeze(1)
        idx = index[:a, s]
        x = {f: t[rows, idx] for f, t in data.items()}
        p = {k: v[:a] for k, v in params.items()}
        p0 = {k: v[:a] for k, v in start.items()}
        grads = step(p, p0, x, labels[rows, idx], weight[:a, s])
        for k in params:
            params[k] = torch.cat([p[k] - lr * grads[k], params[k][a:]])

    return _upload(clients, params, start, sparse_tables)


def _download(global_params: Mapping[str, torch.Tensor], clients: Sequence[ClientPartition],
              sparse_tables: set[str]) -> dict[str, torch.Tensor]:
    """Each client's starting parameters: the dense ones, and its own rows of each table."""
    start: dict[str, torch.Tensor] = {}
    for name, value in global_params.items():
        if name in sparse_tables:
            r_max = max(c.rows[name].numel() for c in clients)
            ids = _pad_stack([c.rows[name] for c in clients], r_max)  # pads with row 0
            start[name] = value[ids]
        else:
            start[name] = value.unsqueeze(0).expand(len(clients), *value.shape).clone()
    return start


def _upload(clients: Sequence[ClientPartition], params: dict[str, torch.Tensor],
            start: dict[str, torch.Tensor], sparse_tables: set[str]) -> list[ClientUpdate]:
    """Deltas only, in client-id order; sparse tables as (row ids, row deltas) of the client's rows."""
    updates = []
    for c, client in enumerate(clients):
        dense = {k: (params[k][c] - start[k][c]) for k in params if k not in sparse_tables}
        sparse = {}
        for k in sparse_tables:
            r = client.rows[k].numel()
            sparse[k] = SparseRows(client.rows[k], params[k][c, :r] - start[k][c, :r])
        updates.append(ClientUpdate(client.client_id, client.num_samples, dense, sparse))
    updates.sort(key=lambda u: u.client_id)
    return updates
