"""Clients with heterogeneous class subsets, built from images the backbone never saw.

Each client recognises a small random subset of classes; a share ``reserve_ratio`` of its
images comes from the other classes (the authors' ``soft_reserve_ratio``). A client's training
and validation images (for the one-time cloud training) come from the cloud's client pool (two
disjoint shares of it, so that early stopping never sees a training image), its test images
from the held-out test split. Images are drawn independently per client (without
replacement within a client), so two clients may share an image.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

PARTS = ("train", "val", "test")


@dataclass(frozen=True)
class ClientSpec:
    """How many clients, how many classes each, and how many images per part."""

    num_clients: int = 100
    min_classes: int = 2
    max_classes: int = 3
    reserve_ratio: float = 0.1
    train_images: int = 128
    val_images: int = 32
    test_images: int = 64

    def to_dict(self) -> dict:
        """The settings as a plain dict (for fingerprints and reports)."""
        return asdict(self)

    def sizes(self) -> dict[str, int]:
        """The number of device classes the cohort holds."""
        return {"train": self.train_images, "val": self.val_images, "test": self.test_images}


def image_pools(labels: np.ndarray, split: np.ndarray, *, backbone_images: int,
                pool_images: int, test_images: int, seed: int) -> dict[str, np.ndarray]:
    """Disjoint, class-balanced index sets into an image set: ``backbone`` (training images
    that train the cloud backbone, every class), ``pool`` (other training images, from which
    the clients' training and validation images are drawn) and ``test`` (test images, from
    which the clients' test images are drawn)."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class = {k: n // len(classes) for k, n in
                 (("backbone", backbone_images), ("pool", pool_images), ("test", test_images))}
    pools: dict[str, list[np.ndarray]] = {"backbone": [], "pool": [], "test": []}
    for c in classes:
        train = rng.permutation(np.flatnonzero((labels == c) & (split == "train")))
        test = rng.permutation(np.flatnonzero((labels == c) & (split == "test")))
        nb, npool, nt = per_class["backbone"], per_class["pool"], per_class["test"]
        if nb + npool > len(train) or nt > len(test) or min(nb, npool, nt) < 1:
            raise ValueError(
                f"class {c}: asked for {nb} backbone + {npool} pool training images and {nt} "
                f"test images per class, the image set has {len(train)} and {len(test)}; "
                "lower backbone_images / pool_images / test_images")
        pools["backbone"].append(train[:nb])
        pools["pool"].append(train[nb:nb + npool])
        pools["test"].append(test[:nt])
    return {k: np.sort(np.concatenate(v)) for k, v in pools.items()}


def _draw(rng: np.random.Generator, labels: np.ndarray, own: np.ndarray, n: int,
          reserve_ratio: float) -> np.ndarray:
    in_subset = np.isin(labels, own)
    n_other = int(rng.binomial(n, reserve_ratio)) if reserve_ratio > 0 else 0
    inside = rng.choice(np.flatnonzero(in_subset), n - n_other, replace=False)
    outside = rng.choice(np.flatnonzero(~in_subset), n_other, replace=False)
    return rng.permutation(np.concatenate([inside, outside]))


def build_clients(pool_labels: np.ndarray, test_labels: np.ndarray, spec: ClientSpec,
                  seed: int, num_classes: int = 10) -> pd.DataFrame:
    """One row per (client, image): ``client``, ``part`` (train/val/test), ``index`` (row in
    the pool's features for train/val, in the test features for test), ``label``, and the
    client's ``classes`` as a string (e.g. ``"3,5"``)."""
    if not 1 <= spec.min_classes <= spec.max_classes <= num_classes:
        raise ValueError(f"class subset sizes {spec.min_classes}..{spec.max_classes} must lie "
                         f"in 1..{num_classes}")
    if not 0 <= spec.reserve_ratio < 1:
        raise ValueError(f"reserve_ratio must lie in [0, 1), got {spec.reserve_ratio}")
    rng = np.random.default_rng(seed)
    # validation images come from their own share of the pool, never used for training
    val_share = spec.val_images / max(1, spec.train_images + spec.val_images)
    in_val = np.zeros(len(pool_labels), dtype=bool)
    for c in np.unique(pool_labels):
        members = np.flatnonzero(pool_labels == c)
        in_val[rng.choice(members, int(round(val_share * len(members))), replace=False)] = True
    sources = {"train": np.flatnonzero(~in_val), "val": np.flatnonzero(in_val),
               "test": np.arange(len(test_labels))}
    rows = []
    for client in range(spec.num_clients):
        size = int(rng.integers(spec.min_classes, spec.max_classes + 1))
        own = np.sort(rng.choice(num_classes, size, replace=False))
        parts = {}
        for part, n in spec.sizes().items():
            source = sources[part]
            labels = (test_labels if part == "test" else pool_labels)[source]
            parts[part] = source[_draw(rng, labels, own, n, spec.reserve_ratio)]
        for part, idx in parts.items():
            labels = (test_labels if part == "test" else pool_labels)[idx]
            rows.append(pd.DataFrame({"client": client, "part": part, "index": idx,
                                      "label": labels, "classes": ",".join(map(str, own))}))
    return pd.concat(rows, ignore_index=True)


def client_sequences(clients: np.ndarray, length: int, seed: int | None) -> np.ndarray:
    """Group image rows into sequences of ``length`` rows of one client.

    ``clients`` gives each row's client. Each client's rows are shuffled (``seed``; None keeps
    their order) and cut into consecutive chunks; a short last chunk is filled with the
    client's first rows, so that every row is a target exactly once (see :func:`targets`).
    Returns an int array (S, length) of row numbers.
    """
    rng = np.random.default_rng(seed) if seed is not None else None
    sequences = []
    for client in np.unique(clients):
        rows = np.flatnonzero(clients == client)
        if rng is not None:
            rows = rng.permutation(rows)
        pad = (-len(rows)) % length
        filled = np.concatenate([rows, np.resize(rows, pad)]) if pad else rows
        sequences.append(filled.reshape(-1, length))
    return np.concatenate(sequences)


def targets(sequences: np.ndarray) -> np.ndarray:
    """Boolean mask (S, L): True at the first place each row appears (the fill is context)."""
    seen: set[int] = set()
    mask = np.zeros(sequences.shape, dtype=bool)
    for (s, j), row in np.ndenumerate(sequences):
        if row not in seen:
            seen.add(int(row))
            mask[s, j] = True
    return mask
