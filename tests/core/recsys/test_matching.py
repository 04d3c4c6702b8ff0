"""Coarse matching on the cloud: what it uses, what it returns, what it skips."""

import numpy as np
import torch

from dcpipelines.core.recsys.matching import (
    coarse_match,
    interest_embeddings,
    pool_embeddings,
    random_outside,
)
from dcpipelines.core.recsys.samples import ClickSamples


def _samples(owner, item, label, history=None):
    n = len(owner)
    history = torch.zeros(n, 2, dtype=torch.long) if history is None else torch.tensor(history)
    return ClickSamples(torch.tensor(item), history, torch.tensor(label, dtype=torch.float32),
                        torch.tensor(owner), np.arange(max(owner) + 1), 10)


def test_interest_embedding_is_the_mean_of_the_clicked_items_only():
    table = torch.randn(10, 3)
    local = _samples([0, 0, 0, 1, 1], [1, 2, 3, 4, 5], [1, 1, 0, 0, 1])
    got = interest_embeddings(table, local)
    torch.testing.assert_close(got[0], (table[1] + table[2]) / 2)
    torch.testing.assert_close(got[1], table[5])


def test_pool_embedding_averages_history_and_a_clicked_item():
    table = torch.randn(10, 3)
    table[0] = 0
    pool = _samples([0, 0], [4, 5], [1, 0], history=[[1, 2], [3, 0]])
    got = pool_embeddings(table, pool)
    torch.testing.assert_close(got[0], (table[1] + table[2] + table[4]) / 3)
    torch.testing.assert_close(got[1], table[3])


def test_coarse_match_returns_the_most_similar_rows_of_other_users_first():
    pool_vectors = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.7, 0.7], [1.0, 0.05]])
    owner = torch.tensor([0, 0, 1, 1, 2])
    interests = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0]])
    rows = coarse_match(interests, pool_vectors, owner, k=2)
    assert rows[0].tolist() == [4, 3]  # rows 0 and 1 are user 0's own, skipped
    assert rows[1].tolist() == [1, 4]  # user 1's own rows 2 and 3 skipped
    assert rows[2].tolist() == [2, 3]
    for user in range(3):
        assert not (owner[rows[user]] == user).any()


def test_random_outside_never_draws_the_users_own_rows():
    pool = _samples([0] * 5 + [1] * 2 + [2] * 8, list(range(1, 16)), [1] * 15)
    rows = random_outside(pool, 200, torch.Generator().manual_seed(0))
    assert rows.shape == (3, 200)
    for user in range(3):
        assert not (pool.owner[rows[user]] == user).any()
    assert set(rows[1].tolist()) == set(range(15)) - {5, 6}  # every other row is reachable
