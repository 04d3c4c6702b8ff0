"""A synthetic token world shared by the routing predictor tests."""

import numpy as np
import pytest


def _marker_world(n=256, length=7, seed=0):
    """Token sequences where one marker token decides the cloud's advantage on dimension 0;
    returns tokens, mask, edge and cloud qualities, the marker flags and the token strings."""
    rng = np.random.default_rng(seed)
    vocab = rng.normal(size=(20, 384)).astype(np.float32)
    ids = rng.integers(1, 20, size=(n, length))
    lengths = rng.integers(4, length + 1, size=n)
    mask = np.arange(length)[None, :] < lengths[:, None]
    has_marker = rng.random(n) < 0.5
    ids[has_marker, 1] = 0  # token 0 is the marker
    tokens = vocab[ids] * mask[..., None]
    edge = np.full((n, 2), 0.5)
    cloud = np.full((n, 2), 0.5)
    cloud[:, 0] = np.where(has_marker, 0.9, 0.5)
    words = [[f"t{i}" for i in row[:m]] for row, m in zip(ids, lengths, strict=True)]
    return tokens, mask, edge, cloud, has_marker, words


@pytest.fixture
def marker_world():
    """The marker-token world as a function of (n, length, seed)."""
    return _marker_world
