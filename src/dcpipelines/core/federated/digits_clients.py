"""Digits clients for Fed-Influence: a Dirichlet label-skewed split and two small models.

Models work on a flat parameter vector so that influence estimation and leave-one-out
retraining can treat them as plain functions: multinomial logistic regression (convex with
the L2 term) and a one-hidden-layer tanh MLP (non-convex).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from dcpipelines.core.data.errors import DataValidationError
from dcpipelines.core.federated.clients import dirichlet_label_split
from dcpipelines.core.federated.influence import FederatedProblem

NUM_CLASSES = 10
PIXELS = 64


@dataclass
class DigitsSplit:
    """The digits split over clients (padded to the largest client, with a mask), plus validation and test sets."""
    client_data: dict[str, torch.Tensor]  # x (K, n_max, 64), y (K, n_max), mask (K, n_max)
    client_sizes: torch.Tensor
    val: dict[str, torch.Tensor]
    test: dict[str, torch.Tensor]


def _tensors(frame: pd.DataFrame) -> dict[str, torch.Tensor]:
    x = torch.tensor(frame[[f"pixel_{i}" for i in range(PIXELS)]].to_numpy(np.float32))
    y = torch.tensor(frame["label"].to_numpy(np.int64))
    return {"x": x, "y": y, "mask": torch.ones(len(frame))}


def split_digits(
    table: pd.DataFrame, *, num_clients: int, alpha: float, val_fraction: float,
    test_fraction: float, seed: int,
) -> DigitsSplit:
    """Server-side validation/test sets, the rest spread over clients by Dirichlet(alpha)."""
    missing = [c for c in ["label", "pixel_0", f"pixel_{PIXELS - 1}"] if c not in table.columns]
    if missing:
        raise DataValidationError(
            "digits", f"missing column(s) {missing}",
            fix="run the ingest pipeline (kedro run --pipelines ingest) to rebuild digits",
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(table))
    n_val, n_test = int(val_fraction * len(table)), int(test_fraction * len(table))
    val = table.iloc[order[:n_val]]
    test = table.iloc[order[n_val:n_val + n_test]]
    train = table.iloc[order[n_val + n_test:]]
    parts = dirichlet_label_split(train["label"].to_numpy(), num_clients, alpha, seed)
    n_max = max(len(p) for p in parts)
    x = torch.zeros((num_clients, n_max, PIXELS))
    y = torch.zeros((num_clients, n_max), dtype=torch.long)
    mask = torch.zeros((num_clients, n_max))
    for i, part in enumerate(parts):
        t = _tensors(train.iloc[part])
        x[i, : len(part)], y[i, : len(part)], mask[i, : len(part)] = t["x"], t["y"], 1.0
    sizes = torch.tensor([len(p) for p in parts], dtype=torch.float32)
    return DigitsSplit({"x": x, "y": y, "mask": mask}, sizes, _tensors(val), _tensors(test))


def flip_labels(split: DigitsSplit, clients: list[int], fraction: float = 1.0,
                seed: int = 0) -> DigitsSplit:
    """Corrupt the given clients: a ``fraction`` of their labels y becomes 9 - y.

    With ``fraction`` 1 every label flips; otherwise each client's flipped samples are drawn
    from ``seed``.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"the flipped fraction must be in (0, 1], got {fraction}")
    g = torch.Generator().manual_seed(int(seed))
    y = split.client_data["y"].clone()
    mask = split.client_data["mask"]
    for k in clients:
        real = torch.nonzero(mask[k] > 0).flatten()
        count = len(real) if fraction == 1.0 else int(round(fraction * len(real)))
        chosen = real[torch.randperm(len(real), generator=g)[:count]]
        y[k, chosen] = (NUM_CLASSES - 1) - y[k, chosen]
    return DigitsSplit({**split.client_data, "y": y}, split.client_sizes, split.val, split.test)


def logistic_logits(theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Logits of multinomial logistic regression with flat parameters ``theta``."""
    w = theta[: PIXELS * NUM_CLASSES].view(PIXELS, NUM_CLASSES)
    return x @ w + theta[PIXELS * NUM_CLASSES:]


def mlp_logits(hidden: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A logits function of a one-hidden-layer MLP whose parameters are one flat vector."""
    def logits(theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        a = PIXELS * hidden
        w1, b1 = theta[:a].view(PIXELS, hidden), theta[a:a + hidden]
        b = a + hidden
        w2 = theta[b:b + hidden * NUM_CLASSES].view(hidden, NUM_CLASSES)
        b2 = theta[b + hidden * NUM_CLASSES:]
        return torch.tanh(x @ w1 + b1) @ w2 + b2

    return logits


def init_params(kind: str, hidden: int, seed: int) -> torch.Tensor:
    """Seeded flat initial parameters of the ``kind`` model (``logistic`` or ``mlp``)."""
    g = torch.Generator().manual_seed(seed)
    if kind == "logistic":
        return torch.zeros(PIXELS * NUM_CLASSES + NUM_CLASSES)
    if kind == "mlp":
        size = PIXELS * hidden + hidden + hidden * NUM_CLASSES + NUM_CLASSES
        theta = torch.randn(size, generator=g) * 0.3
        theta[PIXELS * hidden: PIXELS * hidden + hidden] = 0
        return theta
    raise ValueError(f"model kind {kind!r} unknown; use logistic or mlp")


def make_loss(kind: str, hidden: int, l2: float):
    """Mean masked cross-entropy of one client's data plus (l2 / 2) ||theta||^2."""
    logits_fn = logistic_logits if kind == "logistic" else mlp_logits(hidden)

    def loss(theta: torch.Tensor, data: dict[str, torch.Tensor]) -> torch.Tensor:
        per = F.cross_entropy(logits_fn(theta, data["x"]), data["y"], reduction="none")
        mean = (per * data["mask"]).sum() / data["mask"].sum().clamp(min=1.0)
        return mean + 0.5 * l2 * (theta**2).sum()

    return loss, logits_fn


def make_problem(split: DigitsSplit, model: dict, training: dict, seed: int) -> FederatedProblem:
    """The federated training problem of a digits split, model and training settings.

    ``training`` may set ``clients_per_round`` and ``batch_size`` (absent: full participation,
    full-batch local steps); the schedule of participants and batches is drawn from ``seed``.
    """
    loss, _ = make_loss(model["kind"], model.get("hidden", 0), model["l2"])
    return FederatedProblem(
        loss, split.client_data, split.client_sizes,
        init_params(model["kind"], model.get("hidden", 0), seed),
        training["rounds"], training["local_steps"], training["lr"],
        clients_per_round=training.get("clients_per_round"),
        batch_size=training.get("batch_size"), schedule_seed=seed,
    )


def eval_loss(model: dict, data: dict[str, torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """theta -> mean cross-entropy on a held-out set (no L2 term)."""
    _, logits_fn = make_loss(model["kind"], model.get("hidden", 0), model["l2"])
    return lambda theta: F.cross_entropy(logits_fn(theta, data["x"]), data["y"])


def accuracy(model: dict, theta: torch.Tensor, data: dict[str, torch.Tensor]) -> float:
    """Share of ``data`` the model with parameters ``theta`` labels correctly."""
    _, logits_fn = make_loss(model["kind"], model.get("hidden", 0), model["l2"])
    return float((logits_fn(theta, data["x"]).argmax(-1) == data["y"]).float().mean())


def as_module(model: dict, theta: torch.Tensor) -> torch.nn.Module:
    """The flat-parameter model as a plain torch module (pixels (B, 64) -> logits (B, 10))."""
    from torch import nn

    if model["kind"] == "logistic":
        layer = nn.Linear(PIXELS, NUM_CLASSES)
        _load_linear(layer, theta[: PIXELS * NUM_CLASSES], theta[PIXELS * NUM_CLASSES:])
        return layer.eval()
    hidden = int(model["hidden"])
    first, second = nn.Linear(PIXELS, hidden), nn.Linear(hidden, NUM_CLASSES)
    a, b = PIXELS * hidden, PIXELS * hidden + hidden
    _load_linear(first, theta[:a], theta[a:b])
    _load_linear(second, theta[b:b + hidden * NUM_CLASSES], theta[b + hidden * NUM_CLASSES:])
    return nn.Sequential(first, nn.Tanh(), second).eval()


def _load_linear(layer: torch.nn.Linear, weight: torch.Tensor, bias: torch.Tensor) -> None:
    """Copy a flat (in x out) weight and a bias into ``layer`` (which stores out x in)."""
    with torch.no_grad():
        layer.weight.copy_(weight.view(layer.in_features, layer.out_features).T)
        layer.bias.copy_(bias)
