"""Tracking attacks: can the cloud link anonymous uploads to users from their embeddings?

The attacker is given the strongest simple position: it knows which training-period uploads
came from the same user (as if they had arrived together) and must name the user of each
later upload from its embedding alone. Two attackers:

- a linear (multinomial logistic) classifier over the standardised embeddings;
- nearest-distribution matching: a diagonal Gaussian fitted per user, and each upload goes to
  the user under whose distribution it is most likely.

Top-1 linkage accuracy is compared with chance (1 / number of users).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def _standardise(train: torch.Tensor, test: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean, std = train.mean(0), train.std(0).clamp(min=1e-6)
    return (train - mean) / std, (test - mean) / std


def linear_attack(train_x: torch.Tensor, train_users: torch.Tensor, test_x: torch.Tensor,
                  test_users: torch.Tensor, num_users: int, *, steps: int = 300,
                  lr: float = 0.05, seed: int = 0) -> float:
    """Top-1 accuracy of a multinomial logistic regression trained on the linked uploads."""
    torch.manual_seed(seed)
    x, z = _standardise(train_x.flatten(1).float(), test_x.flatten(1).float())
    layer = torch.nn.Linear(x.shape[1], num_users)
    optimizer = torch.optim.Adam(layer.parameters(), lr=lr)
    for _ in range(steps):
        loss = F.cross_entropy(layer(x), train_users)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return float((layer(z).argmax(1) == test_users).float().mean())


def nearest_distribution_attack(train_x: torch.Tensor, train_users: torch.Tensor,
                                test_x: torch.Tensor, test_users: torch.Tensor,
                                num_users: int) -> float:
    """Top-1 accuracy of matching each upload to the most likely per-user diagonal Gaussian."""
    x, z = train_x.flatten(1).double(), test_x.flatten(1).double()
    floor = 1e-6 * x.var(0).mean().clamp(min=1e-12)
    loglik = torch.full((len(z), num_users), -torch.inf, dtype=torch.float64)
    for user in range(num_users):
        own = x[train_users == user]
        if len(own) == 0:
            continue
        mean, var = own.mean(0), own.var(0, unbiased=False) + floor
        loglik[:, user] = -0.5 * (((z - mean) ** 2) / var + var.log()).sum(1)
    return float((loglik.argmax(1) == test_users).double().mean())


def tracking_attacks(train_x: torch.Tensor, train_users: torch.Tensor, test_x: torch.Tensor,
                     test_users: torch.Tensor, num_users: int, *, steps: int = 300,
                     seed: int = 0) -> dict[str, float]:
    """Both attackers' accuracies, the best of them, and chance."""
    linear = linear_attack(train_x, train_users, test_x, test_users, num_users, steps=steps,
                           seed=seed)
    nearest = nearest_distribution_attack(train_x, train_users, test_x, test_users, num_users)
    return {"linear": linear, "nearest_distribution": nearest, "best": max(linear, nearest),
            "chance": 1.0 / num_users}
