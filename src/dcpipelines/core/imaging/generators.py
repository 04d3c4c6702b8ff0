"""Two conditional image generators trained here: prompt embedding -> RGB image.

Both share one shape (an MLP stem and a transposed-convolution decoder); the edge generator is
narrow, the cloud generator wide (the default configuration trains both equally long). Both regress the rendered image of the
prompt's scene (mean squared error), so where one is better than the other comes from capacity
and training, not from any rule written here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from typing_extensions import override

from dcpipelines.core.nn.fit import fit_minibatches
from dcpipelines.core.nn.packing import pack_model, unpack_model


@dataclass(frozen=True)
class GeneratorSpec:
    """Size and training settings of a scene generator (prompt embedding to image)."""
    hidden: int  # width of the MLP stem
    channels: int  # width of the convolutional decoder
    image_size: int = 24
    text_dim: int = 384
    epochs: int = 20
    batch_size: int = 64
    lr: float = 2e-3


class Generator(nn.Module):
    """Text embedding (standardised with the training prompts' statistics) -> MLP stem ->
    (size/4)^2 feature map -> two upsampling stages -> image."""

    def __init__(self, spec: GeneratorSpec) -> None:
        super().__init__()
        if spec.image_size % 4:
            raise ValueError(f"generator image size must be divisible by 4, got {spec.image_size}")
        self.base, c = spec.image_size // 4, spec.channels
        # the training prompts' embedding mean and spread (set by :func:`train_generator`): sentence
        # embeddings of similar prompts differ in small directions, standardised they train fast
        self.register_buffer("text_mean", torch.zeros(spec.text_dim))
        self.register_buffer("text_std", torch.ones(spec.text_dim))
        self.stem = nn.Sequential(
            nn.Linear(spec.text_dim, spec.hidden), nn.GELU(),
            nn.Linear(spec.hidden, spec.hidden), nn.GELU(),
            nn.Linear(spec.hidden, c * self.base ** 2), nn.GELU(),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(c, c, 4, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(c, c, 3, padding=1), nn.GELU(),
            nn.ConvTranspose2d(c, c // 2, 4, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(c // 2, 3, 3, padding=1),
        )

    @override
    def forward(self, text: torch.Tensor) -> torch.Tensor:
        features = self.stem((text - self.text_mean) / self.text_std).view(-1, self.decoder[0].in_channels, self.base, self.base)
        return torch.sigmoid(self.decoder(features)).permute(0, 2, 3, 1)


def build_generator(spec: GeneratorSpec) -> nn.Module:
    """An untrained generator of the given spec."""
    return Generator(spec)


def train_generator(spec: GeneratorSpec, text: np.ndarray, images: np.ndarray,
                    seed: int) -> tuple[nn.Module, list[float]]:
    """Fit a generator on (prompt embedding, rendered image) pairs; returns it and the loss
    of every epoch."""
    if len(text) != len(images):
        raise ValueError(f"{len(text)} prompt embeddings but {len(images)} images")
    torch.manual_seed(seed)
    model = build_generator(spec)
    x, y = torch.as_tensor(text), torch.as_tensor(images)
    model.text_mean.copy_(x.mean(0))
    model.text_std.copy_(x.std(0).clamp_min(1e-6))
    history = fit_minibatches(
        model, len(x), lambda batch: nn.functional.mse_loss(model(x[batch]), y[batch]),
        epochs=spec.epochs, batch_size=spec.batch_size, lr=spec.lr, seed=seed,
    )
    return model.eval(), history


@torch.no_grad()
def generate_images(model: nn.Module, text: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Images (N, H, W, 3) in [0, 1] for prompt embeddings (N, D)."""
    x = torch.as_tensor(text)
    return torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]).numpy()


def count_parameters(model: nn.Module) -> int:
    """Number of parameters of a model."""
    return sum(p.numel() for p in model.parameters())


def pack_generator(model: nn.Module, spec: GeneratorSpec, history: list[float]) -> dict[str, Any]:
    """The trained generator as a plain dict (see :mod:`dcpipelines.core.nn.packing`)."""
    return pack_model(model, spec, history)


def unpack_generator(packed: dict[str, Any]) -> nn.Module:
    """The generator stored by :func:`pack_generator`, in eval mode."""
    return unpack_model(packed, lambda spec: build_generator(GeneratorSpec(**spec)))
