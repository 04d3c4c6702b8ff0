"""Two monocular depth estimators for small robots, a scale-aware loss, and one training loop.

- :class:`DepthAutoEncoder`: a convolutional encoder down to 1/16 of the input, a decoder of
  upsampling + convolution back to half the input resolution; no skip connections.
- :class:`MultiScaleDepthNet`: Eigen, Puhrsch and Fergus (NIPS 2014): a coarse network that
  sees the whole image (convolutions, then fully connected layers that output a whole coarse
  depth map) and a fine network that refines it with local convolutions on the image,
  concatenating the coarse map as an extra channel.

Both take RGB in [0, 1], shape (B, 3, H, W), and return depth in metres (B, 1, H/2, W/2);
internally they predict log-depth. The loss is Eigen's scale-invariant log error with
lambda = 0.5 (lambda = 0 would be plain L2 on log-depth, lambda = 1 fully scale-invariant;
0.5 keeps part of the absolute scale, so it is scale-aware), over valid pixels only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from typing_extensions import override

from dcpipelines.core.vision.rgbd import Frames


def _conv(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class DepthAutoEncoder(nn.Module):
    """Encoder (four stride-2 convolutions) and decoder (three x2 upsamplings)."""

    def __init__(self, widths: Sequence[int] = (16, 32, 64, 96)) -> None:
        super().__init__()
        c1, c2, c3, c4 = widths
        self.encoder = nn.Sequential(_conv(3, c1, stride=2), _conv(c1, c2, stride=2),
                                     _conv(c2, c3, stride=2), _conv(c3, c4, stride=2))
        self.decoder = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), _conv(c4, c3),
            nn.Upsample(scale_factor=2, mode="nearest"), _conv(c3, c2),
            nn.Upsample(scale_factor=2, mode="nearest"), _conv(c2, c1),
            nn.Conv2d(c1, 1, 3, padding=1),
        )

    def log_depths(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every log-depth map the loss sees (here one)."""
        return [self.decoder(self.encoder(x - 0.5))]

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.log_depths(x)[-1])


class MultiScaleDepthNet(nn.Module):
    """Coarse global network (convolutions + two fully connected layers) and fine network."""

    def __init__(self, input_hw: tuple[int, int] = (48, 64),
                 coarse_widths: Sequence[int] = (16, 32, 64, 64), hidden: int = 128,
                 fine_width: int = 32) -> None:
        super().__init__()
        c1, c2, c3, c4 = coarse_widths
        h, w = input_hw
        self.out_hw = (h // 2, w // 2)
        self.coarse_features = nn.Sequential(_conv(3, c1, stride=2), _conv(c1, c2, stride=2),
                                             _conv(c2, c3, stride=2), _conv(c3, c4, stride=2))
        self.coarse_head = nn.Sequential(
            nn.Flatten(), nn.Linear(c4 * (h // 16) * (w // 16), hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, self.out_hw[0] * self.out_hw[1]),
        )
        self.fine_image = _conv(3, fine_width, kernel=5, stride=2)
        self.fine_head = nn.Sequential(_conv(fine_width + 1, fine_width),
                                       nn.Conv2d(fine_width, 1, 3, padding=1))

    def log_depths(self, x: torch.Tensor) -> list[torch.Tensor]:
        """[coarse, fine] log-depth maps, both at the output resolution."""
        x = x - 0.5
        coarse = self.coarse_head(self.coarse_features(x)).reshape(-1, 1, *self.out_hw)
        fine = self.fine_head(torch.cat([self.fine_image(x), coarse], dim=1))
        return [coarse, fine]

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.log_depths(x)[-1])


def build_depth_model(kind: str, spec: dict, input_hw: tuple[int, int]) -> nn.Module:
    """``kind`` 'ae' or 'multiscale', sized by ``spec`` (the parameters' model section)."""
    if kind == "ae":
        return DepthAutoEncoder(spec["widths"])
    if kind == "multiscale":
        return MultiScaleDepthNet(input_hw, spec["coarse_widths"], spec["hidden"],
                                  spec["fine_width"])
    raise ValueError(f"unknown depth model {kind!r}; use 'ae' or 'multiscale'")


def scale_invariant_loss(log_pred: torch.Tensor, depth: torch.Tensor,
                         lam: float = 0.5) -> torch.Tensor:
    """Eigen's loss per image over valid pixels: mean(d^2) - lam * mean(d)^2,
    d = log pred - log depth; averaged over the batch."""
    valid = (depth > 0).float()
    count = valid.sum(dim=(1, 2, 3)).clamp(min=1)
    diff = (log_pred - torch.log(depth.clamp(min=1e-6))) * valid
    mean = diff.sum(dim=(1, 2, 3)) / count
    return ((diff**2).sum(dim=(1, 2, 3)) / count - lam * mean**2).mean()


def to_tensors(frames: Frames) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3, H, W) float RGB in [0, 1] and (B, 1, h, w) depth."""
    rgb = torch.from_numpy(np.ascontiguousarray(frames.rgb.transpose(0, 3, 1, 2))).float() / 255
    return rgb, torch.from_numpy(frames.depth).float()[:, None]


@dataclass(frozen=True)
class TrainingResult:
    """A trained depth model with its loss per epoch and the epoch its weights come from."""
    model: nn.Module
    train_loss: list[float]  # per epoch
    val_loss: list[float]  # per epoch
    best_epoch: int  # 1-based; the returned weights are from this epoch


def _epoch(model, optimiser, rgb, depth, batch: int, lam: float, gen) -> float:
    model.train()
    order = torch.randperm(len(rgb), generator=gen)
    total = 0.0
    for start in range(0, len(rgb), batch):
        idx = order[start:start + batch]
        x, y = rgb[idx], depth[idx]
        flip = torch.rand(len(idx), generator=gen) < 0.5  # horizontal flips (as Eigen)
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        y = torch.where(flip[:, None, None, None], y.flip(-1), y)
        loss = sum(scale_invariant_loss(p, y, lam) for p in model.log_depths(x))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        total += loss.item() * len(idx)
    return total / len(rgb)


def validation_loss(model: nn.Module, frames: Frames, lam: float = 0.5) -> float:
    """The loss of the final log-depth map over ``frames`` (eval mode)."""
    rgb, depth = to_tensors(frames)
    model.eval()
    with torch.no_grad():
        return float(scale_invariant_loss(model.log_depths(rgb)[-1], depth, lam))


def train_depth_model(model: nn.Module, train: Frames, val: Frames, *, epochs: int, batch: int,
                      lr: float, lam: float, seed: int) -> TrainingResult:
    """Adam with a cosine schedule over ``epochs``; keeps the weights of the epoch with the
    lowest validation loss. Every model gets the same budget (epochs, batch, lr, data)."""
    gen = torch.Generator().manual_seed(seed)
    rgb, depth = to_tensors(train)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(epochs, 1))
    train_loss, val_loss, best, best_state = [], [], 0, None
    for epoch in range(epochs):
        train_loss.append(_epoch(model, optimiser, rgb, depth, batch, lam, gen))
        schedule.step()
        val_loss.append(validation_loss(model, val, lam))
        if val_loss[-1] <= min(val_loss):
            best = epoch + 1
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    if best_state is not None:
        model.load_state_dict(best_state)
    return TrainingResult(model.eval(), train_loss, val_loss, best)


def predict_depth(model: nn.Module, frames: Frames, batch: int = 256) -> np.ndarray:
    """Depth (N, h, w) in metres for ``frames``."""
    rgb, _ = to_tensors(frames)
    model.eval()
    with torch.no_grad():
        out = [model(rgb[i:i + batch]) for i in range(0, len(rgb), batch)]
    return torch.cat(out)[:, 0].numpy()


__all__ = ["DepthAutoEncoder", "MultiScaleDepthNet", "TrainingResult", "build_depth_model",
           "predict_depth", "scale_invariant_loss", "to_tensors",
           "train_depth_model", "validation_loss"]
