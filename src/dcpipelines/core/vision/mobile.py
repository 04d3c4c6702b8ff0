"""MobileNet-style CNNs for 32x32 images: depthwise-separable inverted residual blocks
(expand 1x1, depthwise 3x3, project 1x1), the family the device runs in the heterogeneous
setting, where the cloud's large submodel is a residual CNN.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from typing_extensions import override


class InvertedResidual(nn.Module):
    """1x1 expansion, 3x3 depthwise convolution, linear 1x1 projection; identity skip when
    shapes allow (MobileNetV2/V3's block without squeeze-excitation)."""

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.body = nn.Sequential(
            nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.Hardswish(),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.Hardswish(),
            nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
        self.skip = stride == 1 and c_in == c_out

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.skip else out


class MobileCNN(nn.Module):
    """Patchify stem (stride 4: 32x32 -> 8x8), two inverted residual blocks per stage (first strided), pool, head."""

    def __init__(self, widths: Sequence[int], num_classes: int = 10, expand: int = 3,
                 stem_stride: int = 4) -> None:
        super().__init__()
        if not widths:
            raise ValueError("widths: give at least one stage width")
        layers: list[nn.Module] = [
            nn.Conv2d(3, widths[0], stem_stride, stem_stride, bias=False), nn.BatchNorm2d(widths[0]),
            nn.Hardswish()]
        c_in = widths[0]
        for i, width in enumerate(widths):
            layers.append(InvertedResidual(c_in, width, 1 if i == 0 else 2, expand))
            layers.append(InvertedResidual(width, width, 1, expand))
            c_in = width
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c_in, num_classes)

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def mobile_cnn(widths: Sequence[int], num_classes: int = 10, expand: int = 3) -> MobileCNN:
    """A MobileNet-style CNN with one stage per width (e.g. [16, 32, 64])."""
    return MobileCNN([int(w) for w in widths], num_classes, int(expand))
