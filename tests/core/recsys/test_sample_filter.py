"""The device's personalised sample classifier keeps planted in-distribution samples and
rejects planted outliers, for every user at once."""

import torch

from dcpipelines.core.recsys.sample_filter import sample_features, train_sample_classifiers


def _planted(users=6, local_n=(30, 12, 50, 20, 8, 40), outside=60, dim=4, seed=0):
    """Each user's samples scatter around its own centre; outside samples around others."""
    gen = torch.Generator().manual_seed(seed)
    centres = 3.0 * torch.randn(users, dim, generator=gen)
    owner = torch.repeat_interleave(torch.arange(users), torch.tensor(local_n))
    local = centres[owner] + 0.5 * torch.randn(len(owner), dim, generator=gen)
    far = torch.randn(users, outside, dim, generator=gen) * 3.0
    inside = centres.unsqueeze(1) + 0.5 * torch.randn(users, 10, dim, generator=gen)
    outliers = centres.unsqueeze(1) + 6.0 + 0.5 * torch.randn(users, 10, dim, generator=gen)
    return local, owner, far, inside, outliers


def test_filter_keeps_planted_in_distribution_samples_and_rejects_outliers():
    local, owner, far, inside, outliers = _planted()
    clf = train_sample_classifiers(local, owner, far, steps=300, lr=0.5, l2=1e-3)
    keep_inside = clf.prob_local(inside) >= 0.5
    keep_outliers = clf.prob_local(outliers) >= 0.5
    assert keep_inside.float().mean() >= 0.9
    assert keep_outliers.float().mean() <= 0.1


def test_classifiers_are_personal_a_users_samples_are_outliers_for_another():
    local, owner, far, inside, _ = _planted(seed=1)
    clf = train_sample_classifiers(local, owner, far, steps=300, lr=0.5, l2=1e-3)
    swapped = inside.roll(1, dims=0)  # user u scores user u-1's in-distribution samples
    assert (clf.prob_local(inside) >= 0.5).float().mean() > (
        clf.prob_local(swapped) >= 0.5).float().mean() + 0.5


def test_batched_training_equals_one_classifier_per_user():
    local, owner, far, inside, _ = _planted(seed=2)
    together = train_sample_classifiers(local, owner, far, steps=50, lr=0.5, l2=1e-3)
    for user in range(far.shape[0]):
        rows = owner == user
        alone = train_sample_classifiers(local[rows], torch.zeros(int(rows.sum()), dtype=torch.long),
                                         far[user:user + 1], steps=50, lr=0.5, l2=1e-3)
        torch.testing.assert_close(alone.weight[0], together.weight[user], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(alone.prob_local(inside[user:user + 1])[0],
                                   together.prob_local(inside[user:user + 1].expand_as(inside))[user],
                                   atol=1e-5, rtol=1e-4)


def test_sample_features_are_item_and_mean_history_embeddings():
    table = torch.arange(30, dtype=torch.float32).reshape(10, 3)
    table[0] = 0
    feats = sample_features(table, torch.tensor([4]), torch.tensor([[1, 3, 0]]))
    torch.testing.assert_close(feats[0], torch.cat([table[4], (table[1] + table[3]) / 2]))
