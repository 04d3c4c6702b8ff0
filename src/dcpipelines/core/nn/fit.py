"""One mini-batch training loop for the small models trained here (generators, scorers,
predictors): AdamW with a one-cycle schedule over seeded shuffles of the samples."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from dcpipelines.core.progress import progress


def fit_minibatches(
    model: nn.Module,
    n_samples: int,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    weight_decay: float = 1e-4,
) -> list[float]:
    """Train ``model`` in place; ``batch_loss(indices)`` gives the loss of one mini-batch.

    Returns the sample-weighted mean loss of every epoch. The shuffles come from their own
    generator seeded with ``seed``, so they do not depend on other draws.
    """
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = -(-n_samples // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, lr, total_steps=max(epochs * steps_per_epoch, 1)
    )
    order = torch.Generator().manual_seed(seed)
    history = []
    bar = progress(range(epochs), desc=f"training {type(model).__name__}", unit="epoch")
    for _ in bar:
        total = 0.0
        for batch in torch.randperm(n_samples, generator=order).split(batch_size):
            loss = batch_loss(batch)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(batch)
        history.append(total / n_samples)
        bar.set_postfix(loss=f"{history[-1]:.4f}")
    return history
