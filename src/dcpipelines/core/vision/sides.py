"""Which labelled images each side holds: the cloud's classes and samples, the device's fresh
samples of other classes (plus a share of cloud-class images), a held-out cloud set, and a
joint test set of every class. Disjoint by construction, the same for a given seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dcpipelines.core.data.errors import DataValidationError


@dataclass(frozen=True)
class SideSplit:
    """Row indices into the image set, per role."""

    cloud: np.ndarray
    cloud_holdout: np.ndarray
    device: np.ndarray
    test: np.ndarray


def _take(pool: np.ndarray, start: int, count: int, what: str) -> np.ndarray:
    if start + count > len(pool):
        raise DataValidationError(
            "cifar10_images", f"{what} needs {start + count} images of one class, "
            f"the set has {len(pool)}", field="labels",
            fix="lower the per-class counts in parameters_dc_ccl.yml (data:)")
    return pool[start:start + count]


def split_sides(
    labels: np.ndarray, split: np.ndarray, cloud_classes: Sequence[int], *,
    train_per_class: int, holdout_per_class: int, device_cloud_class_share: float,
    test_per_class: int, seed: int,
) -> SideSplit:
    """Per class, a seeded permutation of its train (and test) rows is cut into roles.

    Cloud classes: ``train_per_class`` rows for the cloud, the next ``holdout_per_class`` held
    out, the next ``share * train_per_class`` for the device. Other classes: the first
    ``train_per_class`` rows for the device. Test: ``test_per_class`` rows of every class.
    """
    classes = np.unique(labels)
    cloud_set = {int(c) for c in cloud_classes}
    if not cloud_set or not cloud_set < {int(c) for c in classes}:
        raise ValueError(f"cloud_classes {sorted(cloud_set)} must be a proper, non-empty subset "
                         f"of the classes {classes.tolist()}")
    rng = np.random.default_rng(seed)
    shared = int(round(device_cloud_class_share * train_per_class))
    parts: dict[str, list[np.ndarray]] = {"cloud": [], "cloud_holdout": [], "device": [],
                                          "test": []}
    for c in classes:
        train_rows = rng.permutation(np.flatnonzero((labels == c) & (split == "train")))
        test_rows = rng.permutation(np.flatnonzero((labels == c) & (split == "test")))
        parts["test"].append(_take(test_rows, 0, test_per_class, "test"))
        if int(c) in cloud_set:
            parts["cloud"].append(_take(train_rows, 0, train_per_class, "cloud"))
            parts["cloud_holdout"].append(
                _take(train_rows, train_per_class, holdout_per_class, "cloud hold-out"))
            parts["device"].append(
                _take(train_rows, train_per_class + holdout_per_class, shared, "device share"))
        else:
            parts["device"].append(_take(train_rows, 0, train_per_class, "device"))
    return SideSplit(**{k: np.sort(np.concatenate(v)) for k, v in parts.items()})
