"""A small CNN recognition backbone for 32x32 RGB images, its trainer and feature extraction.

The backbone is trained once on a cloud pool of labelled images and then kept frozen; the
methods built on top of it read its penultimate-layer features (global average pooling of the
last convolution), as ICIIA's authors do with their cached backbone features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from typing_extensions import override

# per-channel mean and standard deviation of CIFAR-10 training images (0..1 scale)
CHANNEL_MEAN = (0.4914, 0.4822, 0.4465)
CHANNEL_STD = (0.2470, 0.2435, 0.2616)


@dataclass(frozen=True)
class BackboneSpec:
    """Architecture and training budget of :class:`SmallCNN`."""

    widths: Sequence[int] = field(default=(16, 32, 64, 128))
    num_classes: int = 10
    epochs: int = 4
    batch_size: int = 128
    lr: float = 0.2
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1

    def to_dict(self) -> dict:
        """The settings as a plain dict (for fingerprints and reports)."""
        return {**asdict(self), "widths": [int(w) for w in self.widths]}


def _conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True)]


class SmallCNN(nn.Module):
    """Conv-BN-ReLU stages, each but the last followed by 2x2 max pooling; global average
    pooling gives the feature vector (width ``widths[-1]``), a linear layer the class logits."""

    def __init__(self, widths: Sequence[int] = (16, 32, 64, 128), num_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for i, width in enumerate(widths):
            layers += _conv_block(c_in, int(width))
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            c_in = int(width)
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c_in, num_classes)
        self.feature_dim = c_in

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) images -> normalised float (N, 3, H, W)."""
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected images of shape (N, H, W, 3), got {images.shape}")
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255)
    mean = torch.tensor(CHANNEL_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CHANNEL_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


def train_backbone(images: np.ndarray, labels: np.ndarray, spec: BackboneSpec,
                   seed: int) -> tuple[SmallCNN, list[float]]:
    """Train :class:`SmallCNN` from scratch (SGD with Nesterov momentum, one-cycle schedule,
    random horizontal flips, label smoothing); returns the model in eval mode and the mean
    training loss of each epoch."""
    torch.manual_seed(seed)
    model = SmallCNN(spec.widths, spec.num_classes)
    x_all, y_all = to_tensor(images), torch.as_tensor(labels, dtype=torch.long)
    optimiser = torch.optim.SGD(model.parameters(), lr=spec.lr, momentum=spec.momentum,
                                nesterov=True, weight_decay=spec.weight_decay)
    steps = spec.epochs * -(-len(x_all) // spec.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, spec.lr, total_steps=steps,
                                                   pct_start=0.25)
    order = torch.Generator().manual_seed(seed)
    history = []
    for _ in range(spec.epochs):
        model.train()
        total = 0.0
        for batch in torch.randperm(len(x_all), generator=order).split(spec.batch_size):
            x = x_all[batch]
            flip = torch.rand(len(batch), generator=order) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
            loss = nn.functional.cross_entropy(model(x), y_all[batch],
                                               label_smoothing=spec.label_smoothing)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(batch)
        history.append(total / len(x_all))
    return model.eval(), history


@torch.no_grad()
def extract_features(model: SmallCNN, images: np.ndarray,
                     batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Penultimate-layer features (N, D) and the backbone's own logits (N, C), float32."""
    model.eval()
    feats, logits = [], []
    for start in range(0, len(images), batch_size):
        f = model.features(to_tensor(images[start:start + batch_size]))
        feats.append(f)
        logits.append(model.classifier(f))
    return torch.cat(feats).numpy(), torch.cat(logits).numpy()


def pack_backbone(model: SmallCNN, spec: BackboneSpec, stamp: str,
                  history: list[float]) -> dict:
    """A plain dict (tensors, numbers, strings) to store the trained backbone."""
    return {"fingerprint": stamp, "state_dict": model.state_dict(),
            "widths": torch.tensor([int(w) for w in spec.widths]),
            "num_classes": int(spec.num_classes), "history": torch.tensor(history)}


def unpack_backbone(packed: dict) -> SmallCNN:
    """The frozen backbone of :func:`pack_backbone`, in eval mode."""
    model = SmallCNN(packed["widths"].tolist(), int(packed["num_classes"]))
    model.load_state_dict(packed["state_dict"])
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model.eval()


def image_digest(images: np.ndarray, labels: np.ndarray) -> str:
    """A short hash of the pixels and labels (what a cached backbone was trained from)."""
    import hashlib

    digest = hashlib.blake2b(digest_size=8)
    digest.update(np.ascontiguousarray(images).data)
    digest.update(np.ascontiguousarray(labels, dtype=np.int64).data)
    return digest.hexdigest()
