"""Who holds which images: disjoint roles, the right classes per side, clear errors."""

import numpy as np
import pytest

from conftest import planted_image_set
from dcpipelines.core.data.errors import DataValidationError
from dcpipelines.core.vision.sides import split_sides

IMAGES = planted_image_set(12, seed=1, test_per_class=5)


def _split(**overrides):
    args = dict(train_per_class=6, holdout_per_class=2, device_cloud_class_share=0.5,
                test_per_class=4, seed=3)
    return split_sides(IMAGES.labels, IMAGES.split, [0, 1, 2, 3, 4, 5], **{**args, **overrides})


def test_roles_are_disjoint_and_hold_the_right_classes():
    split = _split()
    roles = [split.cloud, split.cloud_holdout, split.device, split.test]
    joined = np.concatenate(roles)
    assert len(joined) == len(set(joined.tolist()))
    labels = IMAGES.labels
    assert set(labels[split.cloud]) == set(range(6))
    assert set(labels[split.cloud_holdout]) == set(range(6))
    assert set(labels[split.device]) == set(range(10))  # its classes plus the share
    assert np.bincount(labels[split.device], minlength=10).tolist() == [3] * 6 + [6] * 4
    assert set(labels[split.test]) == set(range(10))
    assert (IMAGES.split[split.test] == "test").all()
    assert (IMAGES.split[np.concatenate(roles[:3])] == "train").all()


def test_same_seed_same_split_other_seed_other_split():
    a, b, c = _split(), _split(), _split(seed=4)
    assert np.array_equal(a.cloud, b.cloud) and np.array_equal(a.device, b.device)
    assert not np.array_equal(a.cloud, c.cloud)


def test_asking_for_more_images_than_a_class_has_names_the_fix():
    with pytest.raises(DataValidationError, match="parameters_dc_ccl.yml"):
        _split(train_per_class=11)


def test_cloud_classes_must_be_a_proper_subset():
    with pytest.raises(ValueError, match="proper"):
        split_sides(IMAGES.labels, IMAGES.split, list(range(10)), train_per_class=2,
                    holdout_per_class=1, device_cloud_class_share=0.0, test_per_class=1, seed=0)
