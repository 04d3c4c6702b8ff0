"""Residual CNNs for 32x32 images, one family at every size: a wide one for the cloud's large
submodel and a narrow one for a device-side co-submodel or mimic of the same family.

A patchify stem (stride 4) takes 32x32 to 8x8; each later stage halves the map, so the
parameters sit at 8x8 and below, where they cost few FLOPs on a CPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from typing_extensions import override


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and an identity (or 1x1, strided) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.shortcut = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        self.act = nn.ReLU(inplace=True)

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class ResidualCNN(nn.Module):
    """Stem, one residual block per stage (the first of each stage strided), pool, classifier.

    ``features`` and ``classifier`` are separate so that the last layer can be tuned alone.
    """

    def __init__(self, widths: Sequence[int], num_classes: int = 10,
                 stem_stride: int = 4) -> None:
        super().__init__()
        if not widths:
            raise ValueError("widths: give at least one stage width")
        layers: list[nn.Module] = [
            nn.Conv2d(3, widths[0], stem_stride, stem_stride, bias=False),
            nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)]
        c_in = widths[0]
        for i, width in enumerate(widths):
            layers.append(ResidualBlock(c_in, width, stride=1 if i == 0 else 2))
            c_in = width
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c_in, num_classes)

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def residual_cnn(widths: Sequence[int], num_classes: int = 10) -> ResidualCNN:
    """A residual CNN with one stage per width (e.g. [64, 128, 256] large, [16, 32] small)."""
    return ResidualCNN([int(w) for w in widths], num_classes)
