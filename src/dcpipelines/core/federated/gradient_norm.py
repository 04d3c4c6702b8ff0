"""FedSubAvg's convergence metric: the element-wise gradient norm of the global objective.

The global objective is ``F(w) = sum_i n_i / N F_i(w)`` (every training sample of the clients
weighted alike). Its gradient is diluted on cold parameters: a row that only a few clients
involve gets a small full gradient even when those clients are far from stationary, so the
usual ``||grad F||^2`` hardly sees cold rows. The element-wise norm (Ding et al., NeurIPS
2022) normalises each parameter's squared gradient by the share of clients that involve it:

    ||grad F(w)||_el^2 = sum_m (K / K_m) (d F / d w_m)^2

with K the clients and K_m those whose data involve parameter m (every client involves the
dense parameters, so they keep weight 1; rows no client involves have zero gradient).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call

from dcpipelines.core.federated.clients import ClientPartition
from dcpipelines.core.federated.local import PerSampleLoss
from dcpipelines.core.federated.strategies import row_heat


def global_samples(
    clients: Sequence[ClientPartition], id_fields: Mapping[str, Sequence[str]]
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Every sample of ``clients`` with its local ids mapped back to global row ids."""
    parts = []
    for c in clients:
        feats = dict(c.features)
        for table, fields in id_fields.items():
            for f in fields:
                feats[f] = c.rows[table][feats[f]]
        parts.append(feats)
    features = {f: torch.cat([p[f] for p in parts]) for f in parts[0]}
    return features, torch.cat([c.labels for c in clients])


class ElementwiseGradientNorm:
    """``||grad F||_el^2`` of a model on a fixed set of clients (computed once: weights, data)."""

    def __init__(self, model: nn.Module, clients: Sequence[ClientPartition],
                 id_fields: Mapping[str, Sequence[str]], per_sample_loss: PerSampleLoss) -> None:
        self.model = model
        self.loss = per_sample_loss
        self.features, self.labels = global_samples(clients, id_fields)
        shapes = {k: v.shape for k, v in model.named_parameters()}
        k = float(len(clients))
        self.weights: dict[str, torch.Tensor] = {}
        for table in id_fields:
            heat = row_heat([c.rows[table] for c in clients], [1] * len(clients),
                            shapes[table][0], kind="clients")
            w = torch.zeros_like(heat)
            w[heat > 0] = k / heat[heat > 0]
            self.weights[table] = w.view(-1, *([1] * (len(shapes[table]) - 1)))

    def __call__(self, params: Mapping[str, torch.Tensor]) -> float:
        """The element-wise gradient norm of the global objective at ``params``."""
        leaves = {k: v.detach().requires_grad_(True) for k, v in params.items()}
        out = functional_call(self.model, leaves, (self.features,))
        grads = torch.autograd.grad(self.loss(out, self.labels).mean(), list(leaves.values()),
                                    allow_unused=True)
        total = torch.zeros((), dtype=torch.float64)
        for name, g in zip(leaves, grads, strict=True):
            if g is None:
                continue
            sq = g.double() ** 2
            if name in self.weights:
                sq = sq * self.weights[name]
            total = total + sq.sum()
        return float(total)
