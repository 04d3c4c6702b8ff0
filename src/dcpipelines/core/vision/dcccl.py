"""DC-CCL (Ding et al., arXiv 2303.10361): device-cloud collaborative controlled learning.

The served model is a vertical split, ``cloud(x) + co(x)``: a large submodel that stays in
the cloud and a small co-submodel that also trains on the device. Because the device cannot
run the large submodel, the cloud distils a light mimic of it (MSE on logits) and sends the
mimic down; the device trains its copy of the co-submodel on ``CE(mimic(x) + co(x), y)``.
Each round the cloud and the device each train a copy of the co-submodel, the two copies are
averaged (BatchNorm running statistics included), and the cloud tunes the co-submodel's last
layer on its own samples with the mimic's output added.

Everything here is plain torch on tensors; the graph decides which side holds which data.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812
from typing_extensions import override

# CIFAR-10 channel statistics (the training split), for input normalisation
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


@dataclass(frozen=True)
class Samples:
    """Normalised images (N, 3, H, W) float32, their labels (N,) int64, and the number of
    classes of the task (the models' output size)."""

    x: torch.Tensor
    y: torch.Tensor
    num_classes: int

    def __len__(self) -> int:
        return int(self.y.shape[0])


def to_samples(images: np.ndarray, labels: np.ndarray, num_classes: int) -> Samples:
    """uint8 (N, H, W, 3) images -> normalised float tensors in NCHW."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    return Samples(((x - mean) / std).contiguous(), torch.as_tensor(labels, dtype=torch.long),
                   int(num_classes))


def pooled(a: Samples, b: Samples) -> Samples:
    """Both sets in one (the centralized reference's training data)."""
    if a.num_classes != b.num_classes:
        raise ValueError(f"pooling sets of {a.num_classes} and {b.num_classes} classes")
    return Samples(torch.cat([a.x, b.x]), torch.cat([a.y, b.y]), a.num_classes)


class FusedModel(nn.Module):
    """The served model: the large cloud submodel's logits plus the co-submodel's."""

    def __init__(self, cloud: nn.Module, co: nn.Module) -> None:
        super().__init__()
        self.cloud = cloud
        self.co = co

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cloud(x) + self.co(x)


@dataclass(frozen=True)
class TrainConfig:
    """One training budget: epochs over the data, SGD with momentum, batch size."""

    epochs: int = 1
    lr: float = 0.05
    batch_size: int = 64
    weight_decay: float = 5e-4
    momentum: float = 0.9

    @classmethod
    def from_params(cls, params: dict) -> TrainConfig:
        """The settings from a parameters dict; unknown keys are ignored."""
        known = {k: params[k] for k in cls.__dataclass_fields__ if k in params}
        return cls(**known)


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Logits of ``model`` in eval mode, in batches (training mode is restored afterwards)."""
    was_training = model.training
    model.eval()
    out = torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


def _batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=generator)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def train_classifier(
    model: nn.Module, data: Samples, cfg: TrainConfig, *, seed: int,
    offset: torch.Tensor | None = None, parameters: Sequence[nn.Parameter] | None = None,
    on_epoch: Callable[[nn.Module], None] | None = None,
) -> nn.Module:
    """Minimise ``CE(offset + model(x), y)`` in place; ``offset`` (fixed logits per sample,
    e.g. the mimic's output) gets no gradient. ``parameters`` limits what is trained."""
    if offset is not None and offset.shape[0] != len(data):
        raise ValueError(f"offset has {offset.shape[0]} rows for {len(data)} samples")
    generator = torch.Generator().manual_seed(int(seed))
    params = list(parameters) if parameters is not None else list(model.parameters())
    optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                                weight_decay=cfg.weight_decay)
    model.train()
    for _ in range(cfg.epochs):
        for idx in _batches(len(data), cfg.batch_size, generator):
            logits = model(data.x[idx])
            if offset is not None:
                logits = logits + offset[idx].detach()
            loss = F.cross_entropy(logits, data.y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if on_epoch is not None:
            on_epoch(model)
    model.eval()
    return model


def distil_mimic(
    mimic: nn.Module, x: torch.Tensor, teacher_logits: torch.Tensor, cfg: TrainConfig, *,
    seed: int,
) -> nn.Module:
    """Fit ``mimic`` to the teacher's logits by MSE (Adam, as the authors), in place."""
    generator = torch.Generator().manual_seed(int(seed))
    optimizer = torch.optim.Adam(mimic.parameters(), lr=cfg.lr)
    mimic.train()
    for _ in range(cfg.epochs):
        for idx in _batches(len(x), cfg.batch_size, generator):
            loss = F.mse_loss(mimic(x[idx]), teacher_logits[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    mimic.eval()
    return mimic


def mimic_fidelity(mimic_logits: torch.Tensor, teacher_logits: torch.Tensor) -> dict[str, float]:
    """How closely the mimic follows the large submodel: logit MSE and top-1 agreement."""
    return {
        "mse": float(F.mse_loss(mimic_logits, teacher_logits)),
        "top1_agreement": float((mimic_logits.argmax(1) == teacher_logits.argmax(1))
                                .float().mean()),
    }


def average_into(target: nn.Module, sources: Sequence[nn.Module],
                 weights: Sequence[float]) -> nn.Module:
    """Write the weighted average of ``sources`` into ``target`` itself (not into a copy).

    Every floating-point entry of the state dict is averaged: parameters and the BatchNorm
    running means and variances. Integer counters (``num_batches_tracked``) take the largest
    source value. ``target`` may be one of ``sources``.
    """
    if len(sources) != len(weights) or not sources:
        raise ValueError(f"average_into: {len(sources)} models against {len(weights)} weights")
    if abs(sum(weights) - 1.0) > 1e-6:
        raise ValueError(f"average_into: weights must sum to 1, got {sum(weights)}")
    states = [s.state_dict() for s in sources]
    merged = {}
    for key, value in target.state_dict().items():
        if value.is_floating_point():
            merged[key] = sum(w * st[key] for w, st in zip(weights, states, strict=True))
        else:
            merged[key] = torch.stack([st[key] for st in states]).amax(0)
    with torch.no_grad():
        for key, value in target.state_dict().items():
            value.copy_(merged[key])
    return target


def tune_last_layer(model: nn.Module, data: Samples, offset: torch.Tensor, cfg: TrainConfig,
                    *, seed: int) -> nn.Module:
    """Train only ``model.classifier`` on ``CE(offset + model(x), y)`` with the body frozen in
    eval mode (as the authors' last-layer tuning); features are computed once."""
    features = predict_logits(model.features, data.x)
    head = model.classifier
    train_classifier(head, Samples(features, data.y, data.num_classes), cfg, seed=seed,
                     offset=offset)
    return model


def zero_last_layer(model: nn.Module) -> nn.Module:
    """Zero the classifier, so that ``cloud + co`` starts as the cloud submodel alone."""
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
    return model


def state_bytes(model: nn.Module) -> int:
    """Bytes of the model's state dict as sent over a link (torch serialisation)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


@dataclass
class CloudRounds:
    """The cloud's half of every round, behind a narrow interface: it receives the
    co-submodel and returns a co-submodel, so only weights cross the link. It holds the
    cloud's samples and the mimic's logits on them (computed once; the mimic is frozen)."""

    data: Samples
    mimic_logits: torch.Tensor
    train: TrainConfig
    tune: TrainConfig

    def train_copy(self, co: nn.Module, seed: int) -> nn.Module:
        """A copy of the co-submodel trained on cloud samples with the mimic's output added."""
        return train_classifier(copy.deepcopy(co), self.data, self.train, seed=seed,
                                offset=self.mimic_logits)

    def tune_last_layer(self, co: nn.Module, seed: int) -> nn.Module:
        """Tune the co-submodel's last layer on cloud samples (mimic added), in place."""
        return tune_last_layer(co, self.data, self.mimic_logits, self.tune, seed=seed)


def round_seed(seed: int, round_index: int) -> int:
    """The seed of one round's shuffling, distinct per round of a run."""
    return int(seed) * 1000 + int(round_index)


def collaborative_rounds(
    co: nn.Module, device_data: Samples, device_mimic_logits: torch.Tensor,
    cloud: CloudRounds, rounds: int, *, seed: int, device_train: TrainConfig,
    tune: bool = True,
) -> list[dict[str, torch.Tensor]]:
    """DC-CCL's rounds; returns the co-submodel's state after each round.

    Per round: the cloud trains one copy on its samples and the device another on its own
    (both with the mimic's output added), the copies are averaged 0.5/0.5 into ``co``, and
    the cloud tunes ``co``'s last layer on its samples (skipped when ``tune`` is False).
    """
    states = []
    for r in range(int(rounds)):
        seed_r = round_seed(seed, r)
        cloud_copy = cloud.train_copy(co, seed_r)
        device_copy = train_classifier(copy.deepcopy(co), device_data, device_train,
                                       seed=seed_r, offset=device_mimic_logits)
        average_into(co, [cloud_copy, device_copy], [0.5, 0.5])
        if tune:
            cloud.tune_last_layer(co, seed_r)
        states.append(copy.deepcopy(co.state_dict()))
    return states


def side_accuracy(logits: torch.Tensor, labels: torch.Tensor,
                  cloud_classes: Sequence[int]) -> dict[str, float]:
    """Top-1 accuracy overall, on the cloud's classes and on the other (device) classes."""
    correct = (logits.argmax(1) == labels).float()
    on_cloud = torch.isin(labels, torch.as_tensor(list(cloud_classes), dtype=labels.dtype))
    if on_cloud.all() or not on_cloud.any():
        raise ValueError("the test set needs images of both cloud and device classes")
    return {"acc": float(correct.mean()), "cloud_class_acc": float(correct[on_cloud].mean()),
            "device_class_acc": float(correct[~on_cloud].mean())}
