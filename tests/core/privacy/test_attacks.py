"""Tracking attacks: chance on identical distributions, certain on static embeddings."""

import torch

from dcpipelines.core.privacy.attacks import tracking_attacks
from dcpipelines.core.privacy.embeddings import BetaEmbeddings, StaticEmbeddings


def uploads(emb, users, per_user, seed):
    torch.manual_seed(seed)
    owners = torch.arange(users).repeat_interleave(per_user)
    with torch.no_grad():
        return emb.sample(owners), owners


def test_identical_distributions_leave_the_attacker_at_chance():
    users = 10
    emb = BetaEmbeddings(users, 1, 16)  # every user Beta(2, 5): nothing tells them apart
    x, who = uploads(emb, users, 100, seed=0)
    z, truth = uploads(emb, users, 100, seed=1)
    result = tracking_attacks(x, who, z, truth, users, seed=0)
    assert result["chance"] == 0.1
    assert result["linear"] < 0.16 and result["nearest_distribution"] < 0.16


def test_static_embeddings_are_linked_to_their_users():
    users = 10
    emb = StaticEmbeddings(users, 1, 16)
    with torch.no_grad():
        emb.vector.normal_(generator=torch.Generator().manual_seed(0))
    x, who = uploads(emb, users, 20, seed=0)
    z, truth = uploads(emb, users, 20, seed=1)
    result = tracking_attacks(x, who, z, truth, users, seed=0)
    assert result["linear"] == 1.0 and result["nearest_distribution"] == 1.0


def test_separated_beta_distributions_are_trackable_and_closeness_helps():
    users = 6
    far, near = BetaEmbeddings(users, 1, 16), BetaEmbeddings(users, 1, 16)
    shift = torch.linspace(-1.0, 1.0, users)[:, None, None]
    with torch.no_grad():
        far.log_alpha.add_(shift)
        near.log_alpha.add_(0.05 * shift)
    acc = {}
    for name, emb in [("far", far), ("near", near)]:
        x, who = uploads(emb, users, 100, seed=0)
        z, truth = uploads(emb, users, 100, seed=1)
        acc[name] = tracking_attacks(x, who, z, truth, users, seed=0)["best"]
    assert acc["far"] > 0.6 and acc["near"] < 0.5 * acc["far"], acc
