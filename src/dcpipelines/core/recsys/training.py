"""Training the cloud's click model on the global pool (every user's training samples)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dcpipelines.core.recsys.din import DIN
from dcpipelines.core.recsys.samples import ClickSamples


def train_cloud_model(
    pool: ClickSamples, *, dim: int, attention_hidden: int, hidden: int, epochs: int,
    batch_size: int, lr: float, seed: int, losses: list[float] | None = None,
) -> DIN:
    """A DIN trained with Adam on shuffled minibatches of the whole pool; returned in eval mode.
    ``losses``, when given, receives the mean training loss of every epoch."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = DIN(pool.num_items, dim, attention_hidden, hidden)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = int(pool.label.numel())
    for _ in range(epochs):
        total = 0.0
        for batch in torch.randperm(n, generator=gen).split(batch_size):
            x = {"item": pool.item[batch], "history": pool.history[batch]}
            loss = F.binary_cross_entropy_with_logits(model(x), pool.label[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(batch)
        if losses is not None:
            losses.append(total / max(n, 1))
    return model.eval()


@torch.no_grad()
def predict(model: DIN, samples: ClickSamples, batch_size: int = 8192) -> torch.Tensor:
    """Click logits of every row of ``samples``."""
    out = [model({"item": samples.item[b], "history": samples.history[b]})
           for b in torch.arange(samples.label.numel()).split(batch_size)]
    return torch.cat(out)
