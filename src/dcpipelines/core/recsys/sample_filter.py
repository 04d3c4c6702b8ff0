"""CoDA's personalised sample classifier, trained on every device at once (stacked tensors).

Each device learns the boundary between its local data (class 1) and outside data (class 0:
random pool samples sent by the cloud) with a logistic regression on sample features taken
from the downloaded cloud model: the candidate item's embedding and the mean embedding of the
sample's click history. It keeps a retrieved sample when the predicted probability of being
local reaches a threshold. Users are independent, so summing their losses and stepping all
weight vectors at once is the same as training one classifier per device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dcpipelines.core.recsys.matching import mean_embedding


@dataclass
class SampleClassifiers:
    """One logistic regression per user on z = (x - mu) / sd and z**2."""

    mean: torch.Tensor  # (U, D)
    scale: torch.Tensor  # (U, D)
    weight: torch.Tensor  # (U, 2D)
    bias: torch.Tensor  # (U,)

    @torch.no_grad()
    def prob_local(self, features: torch.Tensor) -> torch.Tensor:
        """(U, n) probability that each of a user's samples (U, n, D) is from its own data."""
        z = _quadratic((features - self.mean.unsqueeze(1)) / self.scale.unsqueeze(1))
        return torch.sigmoid(torch.einsum("und,ud->un", z, self.weight) + self.bias.unsqueeze(1))


def _quadratic(z: torch.Tensor) -> torch.Tensor:
    return torch.cat([z, z * z], dim=-1)


@torch.no_grad()
def sample_features(table: torch.Tensor, item: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
    """(..., 2d): the candidate item's embedding and the mean embedding of its history."""
    return torch.cat([table[item], mean_embedding(table, history)], dim=-1)


def train_sample_classifiers(
    local: torch.Tensor, owner: torch.Tensor, outside: torch.Tensor, *, steps: int, lr: float,
    l2: float,
) -> SampleClassifiers:
    """Full-batch gradient descent on the class-balanced logistic loss, all users at once.

    ``local`` (n, D) holds every device's local sample features, ``owner`` (n,) the user of
    each; ``outside`` (U, M, D) the outside samples' features of each user. Features are
    standardised per user over its local and outside samples.
    """
    users, per_user = outside.shape[:2]
    n_local = torch.bincount(owner, minlength=users).to(local.dtype)
    total = (n_local + per_user).unsqueeze(1)
    mean = (torch.zeros(users, local.shape[1]).index_add_(0, owner, local)
            + outside.sum(1)) / total
    var = (torch.zeros(users, local.shape[1]).index_add_(0, owner, (local - mean[owner]) ** 2)
           + ((outside - mean.unsqueeze(1)) ** 2).sum(1)) / total
    scale = var.sqrt().clamp(min=1e-6)
    z_local = _quadratic((local - mean[owner]) / scale[owner])
    z_out = _quadratic((outside - mean.unsqueeze(1)) / scale.unsqueeze(1))
    weight = torch.zeros(users, z_local.shape[1], requires_grad=True)
    bias = torch.zeros(users, requires_grad=True)
    for _ in range(steps):
        logit_local = (z_local * weight[owner]).sum(1) + bias[owner]
        logit_out = torch.einsum("umd,ud->um", z_out, weight) + bias.unsqueeze(1)
        loss_local = torch.zeros(users).index_add(0, owner, F.softplus(-logit_local)) / n_local
        loss_out = F.softplus(logit_out).mean(1)
        loss = (loss_local + loss_out + l2 * (weight ** 2).sum(1)).sum()
        g_weight, g_bias = torch.autograd.grad(loss, [weight, bias])
        with torch.no_grad():
            weight -= lr * g_weight
            bias -= lr * g_bias
    return SampleClassifiers(mean, scale, weight.detach(), bias.detach())
