"""Small models that run on the device side (walle's reference edge models), and the training
of the reference one.

``DigitsCNN`` is the reference edge model of the ``walle`` pipeline: a two-conv network for
8x8 grey-scale digits (about 10k parameters). ``DigitsMLP`` and ``ItemEmbeddingScorer`` cover
the other layer families an on-device task uses (dense layers, embedding look-ups).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn
from typing_extensions import override

DIGIT_SIDE = 8


class DigitsCNN(nn.Module):
    """conv(1->16) -> ReLU -> conv(16->32, stride 2) -> ReLU -> global mean -> linear(32->10)."""

    def __init__(self, channels: int = 16, classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Linear(2 * channels, classes)

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


class ImageCNN32(nn.Module):
    """A small image tagger for 32x32 RGB frames (about 0.1M parameters, ~16 MFLOPs at the
    default ``width`` 32)."""

    def __init__(self, classes: int = 10, width: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Linear(2 * width, classes)

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


class DigitsMLP(nn.Module):
    """64 pixels -> hidden -> hidden -> 10 classes."""

    def __init__(self, hidden: int = 64, classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(DIGIT_SIDE * DIGIT_SIDE, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, classes),
        )

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ItemEmbeddingScorer(nn.Module):
    """Mean of a user's recent item embeddings -> MLP -> one relevance score per item."""

    def __init__(self, items: int = 1000, dim: int = 16) -> None:
        super().__init__()
        self.embedding = nn.Embedding(items, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, items))

    @override
    def forward(self, item_ids: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.embedding(item_ids).mean(dim=1))


def digits_tensors(digits: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``digits`` primary table as (N, 1, 8, 8) float images and int64 labels."""
    pixels = [f"pixel_{i}" for i in range(DIGIT_SIDE * DIGIT_SIDE)]
    missing = [c for c in ["label", *pixels] if c not in digits.columns]
    if missing:
        raise ValueError(f"digits table lacks columns {missing[:3]}...; re-run the ingest pipeline")
    images = torch.tensor(digits[pixels].to_numpy(np.float32)).reshape(-1, 1, DIGIT_SIDE, DIGIT_SIDE)
    return images, torch.tensor(digits["label"].to_numpy(np.int64))


def train_digits_cnn(
    digits: pd.DataFrame, epochs: int, seed: int, test_fraction: float = 0.2, lr: float = 3e-3
) -> tuple[DigitsCNN, float, list[float]]:
    """Train ``DigitsCNN`` on a seeded split of the digits; returns the model, its test accuracy
    and the mean training loss of every epoch."""
    images, labels = digits_tensors(digits)
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=generator)
    n_test = int(len(labels) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    torch.manual_seed(seed)
    model = DigitsCNN()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        model.train()
        total = 0.0
        for batch in torch.randperm(len(train), generator=generator).split(64):
            index = train[batch]
            loss = nn.functional.cross_entropy(model(images[index]), labels[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(index)
        losses.append(total / len(train))
    model.eval()
    with torch.no_grad():
        accuracy = (model(images[test]).argmax(1) == labels[test]).float().mean().item()
    return model, accuracy, losses


def _seeded(model_class: type[nn.Module]) -> nn.Module:
    """A model with the same initial weights every time (cost figures need no training)."""
    torch.manual_seed(0)
    return model_class().eval()


def _seeded_inputs() -> dict[str, torch.Tensor]:
    """Seeded non-zero stand-in inputs (timing on all-zero tensors flatters some kernels)."""
    generator = torch.Generator().manual_seed(0)
    digit = torch.rand(1, 1, DIGIT_SIDE, DIGIT_SIDE, generator=generator)  # pixels in [0, 1]
    return {"digits_cnn": digit, "digits_mlp": digit,
            "item_embedding_scorer": torch.randint(0, 1000, (1, 20), generator=generator),
            "image_cnn32": torch.rand(1, 3, 32, 32, generator=generator)}


def reference_edge_models(
    digits_cnn: nn.Module | None = None,
    examples: dict[str, torch.Tensor] | None = None,
    accuracy: float | None = None,
) -> dict[str, dict]:
    """The reference edge models of the ``walle`` pipeline in the hand-off form of
    :mod:`dcpipelines.core.devices.models` (name -> module, example input, description,
    trained, quality). ``digits_cnn``: the trained reference model (test ``accuracy``); without
    it, seeded weights. ``examples``: real batch-1 inputs by model name (a digit, a CIFAR-10
    test image); seeded random ones stand in for the others."""
    inputs = {**_seeded_inputs(), **(examples or {})}
    entries = {
        "digits_cnn": {"module": (digits_cnn or _seeded(DigitsCNN)).eval(),
                       "description": "walle's reference edge model: 2 convs on 8x8 digits"},
        "digits_mlp": {"module": _seeded(DigitsMLP), "description": "3-layer MLP on 8x8 digits"},
        "item_embedding_scorer": {
            "module": _seeded(ItemEmbeddingScorer),
            "description": "1000 item embeddings (dim 16) + MLP scorer over 20 recent items"},
        "image_cnn32": {"module": _seeded(ImageCNN32), "description": "3 convs on 32x32 RGB frames"},
    }
    for name, entry in entries.items():
        trained = name == "digits_cnn" and digits_cnn is not None
        entry.update(example_input=inputs[name], trained=trained,
                     quality={"accuracy": float(accuracy)} if trained and accuracy is not None else {})
    return entries


def calibration_models() -> dict[str, dict]:
    """Registered variants of the reference edge models (seeded weights, seeded inputs) in the
    hand-off form: widths and depths chosen so that convolution FLOPs, matrix-product FLOPs and
    operator counts vary independently, for calibrating the device cost model on a host."""
    generator = torch.Generator().manual_seed(1)
    digit = torch.rand(1, 1, DIGIT_SIDE, DIGIT_SIDE, generator=generator)  # pixels in [0, 1]
    frame = torch.rand(1, 3, 32, 32, generator=generator)
    variants: dict[str, tuple[type[nn.Module], dict[str, int], torch.Tensor]] = {
        **{f"mlp_h{h}": (DigitsMLP, {"hidden": h}, digit) for h in (16, 256, 1024)},
        **{f"cnn8_c{c}": (DigitsCNN, {"channels": c}, digit) for c in (4, 32, 64)},
        **{f"cnn32_w{w}": (ImageCNN32, {"width": w}, frame) for w in (8, 16, 48)},
        "scorer_i5000": (ItemEmbeddingScorer, {"items": 5000, "dim": 32},
                         torch.randint(0, 5000, (1, 20), generator=generator)),
    }
    models = {}
    for name, (model_class, sizes, example) in variants.items():
        torch.manual_seed(0)
        models[name] = {"module": model_class(**sizes).eval(), "example_input": example,
                        "trained": False, "description": f"cost-model calibration variant {name}"}
    return models


__all__ = [
    "calibration_models",
    "DigitsCNN",
    "ImageCNN32",
    "reference_edge_models",
    "DigitsMLP",
    "ItemEmbeddingScorer",
    "digits_tensors",
    "train_digits_cnn",
]
