"""One-time cloud training of a head on client sequences of frozen features, and evaluation.

Every model here maps ``(B, L, D)`` features (and ``(B, L)`` client identifiers) to
``(B, L, C)`` logits. Training draws fresh client sequences every epoch, optimises the loss
of every image, and keeps the weights of the epoch with the best validation accuracy (early
stopping). All heads share one budget: the same epochs, images per step and optimiser.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from dcpipelines.core.vision.clients import client_sequences, targets


@dataclass(frozen=True)
class TrainBudget:
    """The budget every head gets (AdamW; early stopping on validation accuracy)."""

    epochs: int = 30
    patience: int = 5
    images_per_step: int = 512
    lr: float = 1e-3
    weight_decay: float = 1e-4

    def to_dict(self) -> dict:
        """The settings as a plain dict (for fingerprints and reports)."""
        return asdict(self)


@dataclass(frozen=True)
class Part:
    """The images of one part (train, val or test) of every client, as tensors."""

    features: torch.Tensor  # (n, D) float32
    labels: torch.Tensor  # (n,) int64
    clients: torch.Tensor  # (n,) int64

    @classmethod
    def from_arrays(cls, features: np.ndarray, labels: np.ndarray, clients: np.ndarray) -> Part:
        """A part from numpy arrays of features, labels and client ids."""
        return cls(torch.as_tensor(np.asarray(features, np.float32)),
                   torch.as_tensor(np.array(labels, dtype=np.int64)),
                   torch.as_tensor(np.array(clients, dtype=np.int64)))

    def __len__(self) -> int:
        return len(self.labels)


def _batches(part: Part, length: int, seed: int | None) -> torch.Tensor:
    return torch.as_tensor(client_sequences(part.clients.numpy(), length, seed))


@torch.no_grad()
def predict(model: nn.Module, part: Part, length: int, seed: int,
            batch_sequences: int = 256) -> np.ndarray:
    """Predicted class of every image; each image is a target once, its companions the other
    images of its client in a sequence of ``length`` (drawn with ``seed``)."""
    model.eval()
    seqs = _batches(part, length, seed)
    mask = torch.as_tensor(targets(seqs.numpy()))
    out = torch.empty(len(part), dtype=torch.long)
    for start in range(0, len(seqs), batch_sequences):
        rows = seqs[start:start + batch_sequences]
        logits = model(part.features[rows], part.clients[rows])
        keep = mask[start:start + batch_sequences]
        out[rows[keep]] = logits.argmax(-1)[keep]
    return out.numpy()


def accuracy(model: nn.Module, part: Part, length: int, seed: int) -> float:
    """Share of images classified correctly (see :func:`predict`)."""
    return float((predict(model, part, length, seed) == part.labels.numpy()).mean())


def fit_head(model: nn.Module, train: Part, val: Part, length: int, budget: TrainBudget,
             seed: int, curve: list[dict[str, float]] | None = None) -> dict[str, float]:
    """Train ``model`` in place on sequences of ``length`` images; restore the weights of the
    best validation epoch. Returns the best validation accuracy and its epoch; ``curve``, when
    given, receives one row per epoch (``epoch``, mean ``train_loss``, ``val_acc``)."""
    torch.manual_seed(seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=budget.lr,
                                  weight_decay=budget.weight_decay)
    per_step = max(1, budget.images_per_step // length)
    draws = np.random.default_rng(seed)
    best, best_epoch, best_state = accuracy(model, val, length, seed), 0, copy.deepcopy(
        model.state_dict())
    for epoch in range(1, budget.epochs + 1):
        model.train()
        seqs = _batches(train, length, int(draws.integers(2**31)))
        order = torch.randperm(len(seqs))
        total, count = 0.0, 0
        for step in order.split(per_step):
            rows = seqs[step]
            logits = model(train.features[rows], train.clients[rows])
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), train.labels[rows].flatten())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total, count = total + float(loss.detach()) * len(rows), count + len(rows)
        score = accuracy(model, val, length, seed)
        if curve is not None:
            curve.append({"epoch": epoch, "train_loss": total / max(count, 1),
                          "val_acc": score})
        if score > best:
            best, best_epoch, best_state = score, epoch, copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= budget.patience:
            break
    model.load_state_dict(best_state)
    return {"val_acc": best, "best_epoch": float(best_epoch), "epochs_run": float(epoch)}
