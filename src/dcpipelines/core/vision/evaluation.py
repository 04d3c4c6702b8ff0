"""ICIIA against its baselines on the same frozen features, clients and training budget.

Methods: ``backbone`` (its own classifier, untrained here), ``finetune`` (that classifier
trained further on the clients' images), ``prompt`` (plus a learned embedding per client),
``ff`` (the ICIIA stack with the attention replaced by a per-image projection, P = 1),
``iciia_b`` (P = 1), ``iciia_t`` (P = ``partitions_t``, shuffled) and ``no_shuffle``
(``iciia_t`` without shuffling).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch
from torch import nn

from dcpipelines.core.vision.adapt import Part, TrainBudget, fit_head, predict
from dcpipelines.core.vision.iciia import IciiaModule, LinearHead, ModuleSpec, PromptHead

METHODS = ("backbone", "ff", "finetune", "prompt", "iciia_b", "iciia_t", "no_shuffle")


@dataclass(frozen=True)
class FeatureSet:
    """Frozen backbone features of the client pool and of the test images, with the
    backbone's classifier (the starting point of the fine-tuned and prompt-tuned heads)."""

    pool_x: np.ndarray
    pool_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classifier_weight: np.ndarray
    classifier_bias: np.ndarray

    @classmethod
    def from_dict(cls, data: dict) -> FeatureSet:
        """The feature set from a dict with the arrays named like its fields."""
        return cls(*(np.asarray(data[k]) for k in (
            "pool_x", "pool_y", "test_x", "test_y", "classifier_weight", "classifier_bias")))

    @property
    def dim(self) -> int:
        """Feature dimension."""
        return int(self.pool_x.shape[1])

    @property
    def num_classes(self) -> int:
        """Number of classes of the backbone classifier."""
        return int(self.classifier_weight.shape[0])

    def classifier(self) -> nn.Linear:
        """A linear layer initialised with the backbone classifier weights."""
        layer = nn.Linear(self.dim, self.num_classes)
        with torch.no_grad():
            layer.weight.copy_(torch.as_tensor(self.classifier_weight))
            layer.bias.copy_(torch.as_tensor(self.classifier_bias))
        return layer


@dataclass(frozen=True)
class Setup:
    """What every head is given: the module's shape, the sequence length, the budget."""

    module: ModuleSpec
    seq_len: int
    partitions_t: int
    budget: TrainBudget
    prompt_dim: int = 16


def client_parts(features: FeatureSet, clients: pd.DataFrame) -> dict[str, Part]:
    """The train / val / test images of every client as :class:`Part` tensors."""
    parts = {}
    for name in ("train", "val", "test"):
        rows = clients[clients["part"] == name]
        source = features.test_x if name == "test" else features.pool_x
        parts[name] = Part.from_arrays(source[rows["index"].to_numpy()], rows["label"].to_numpy(),
                                       rows["client"].to_numpy())
    return parts


def build_model(method: str, setup: Setup, features: FeatureSet,
                num_clients: int) -> tuple[nn.Module, int]:
    """A fresh model for ``method`` and the sequence length it reads."""
    spec = setup.module
    variants = {"ff": replace(spec, attention=False, partitions=1),
                "iciia_b": replace(spec, partitions=1),
                "iciia_t": replace(spec, partitions=setup.partitions_t, shuffle=True),
                "no_shuffle": replace(spec, partitions=setup.partitions_t, shuffle=False)}
    if method in variants:
        return IciiaModule(features.dim, features.num_classes, variants[method]), setup.seq_len
    if method in ("backbone", "finetune"):
        return LinearHead(features.classifier()), 1
    if method == "prompt":
        return PromptHead(features.classifier(), num_clients, setup.prompt_dim), 1
    raise ValueError(f"unknown method {method!r}; choose from {METHODS}")


def score(model: nn.Module, length: int, parts: dict[str, Part], budget: TrainBudget | None,
          seed: int, curve: list[dict[str, float]] | None = None) -> tuple[np.ndarray, dict[str, float]]:
    """Train (unless ``budget`` is None) and predict the test images; returns whether each
    test image was right and the training summary (per-epoch rows go to ``curve``)."""
    info = {"val_acc": float("nan"), "best_epoch": 0.0, "epochs_run": 0.0}
    if budget is not None:
        torch.manual_seed(seed)
        info = fit_head(model, parts["train"], parts["val"], length, budget, seed, curve)
    right = predict(model, parts["test"], length, seed) == parts["test"].labels.numpy()
    return right, info


def compare(features: FeatureSet, clients: pd.DataFrame, setup: Setup, seed: int,
            methods: tuple[str, ...] = METHODS,
            curves: dict[str, list[dict[str, float]]] | None = None,
            ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Every method on one draw of clients: a table (method, acc, val_acc, best_epoch), the
    accuracy of every client under every method, and the trained models by method.
    ``curves``, when given, receives each trained method's per-epoch rows (see ``fit_head``)."""
    parts = client_parts(features, clients)
    num_clients = int(clients["client"].max()) + 1
    test_clients = parts["test"].clients.numpy()
    rows, per_client, models = [], {}, {}
    for method in methods:
        torch.manual_seed(seed)
        model, length = build_model(method, setup, features, num_clients)
        budget = None if method == "backbone" else setup.budget
        curve: list[dict[str, float]] = []
        right, info = score(model, length, parts, budget, seed, curve)
        if curves is not None and curve:
            curves[method] = curve
        rows.append({"method": method, "acc": float(right.mean()), **info})
        per_client[method] = (np.bincount(test_clients, right.astype(float), num_clients)
                              / np.bincount(test_clients, minlength=num_clients))
        models[method] = model.eval()
    clients_table = pd.DataFrame({"client": np.arange(num_clients), **per_client})
    return pd.DataFrame(rows), clients_table, models


def sweep(features: FeatureSet, clients: pd.DataFrame, setup: Setup, seed: int,
          configs: list[tuple[int, bool, int]],
          known: dict[tuple[int, bool, int], float] | None = None) -> pd.DataFrame:
    """ICIIA accuracy for each (partitions, shuffle, seq_len); results in ``known`` (same
    clients and seed, hence the same figure) are reused instead of retrained, and new ones are
    added to it. With one
    partition the shuffle is the identity, so P = 1 is trained once for both settings."""
    parts = client_parts(features, clients)
    known = {} if known is None else known
    rows = []
    for partitions, shuffle, length in configs:
        key = (partitions, shuffle if partitions > 1 else True, length)
        if key not in known:
            torch.manual_seed(seed)
            spec = replace(setup.module, partitions=partitions, shuffle=key[1])
            model = IciiaModule(features.dim, features.num_classes, spec)
            right, _ = score(model, length, parts, setup.budget, seed)
            known[key] = float(right.mean())
        rows.append({"partitions": partitions, "shuffle": shuffle, "seq_len": length,
                     "acc": known[key]})
    return pd.DataFrame(rows)
