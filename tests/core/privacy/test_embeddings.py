"""Per-user embedding distributions: shapes, a fresh draw per upload, zeros for new users."""

import pandas as pd
import pytest
import torch

from dcpipelines.core.privacy.embeddings import learn_embeddings, make_embeddings
from dcpipelines.core.privacy.personalise import embedding_uploads
from dcpipelines.core.text.prefix_lm import PrefixLM
from dcpipelines.core.text.user_training import UserSamples


def model(num_classes=3):
    torch.manual_seed(0)
    return PrefixLM(20, dim=8, layers=1, heads=2, max_len=6, n_prefix=2, num_classes=num_classes)


@pytest.mark.parametrize("kind", ["beta", "gaussian", "static"])
def test_samples_have_the_prefix_shape_and_new_users_get_zeros(kind):
    emb = make_embeddings(kind, 4, model())
    draws = emb.sample(torch.tensor([0, 3, -1, 2, -1]))
    assert draws.shape == (5, 2, 8)
    assert torch.equal(draws[2], torch.zeros(2, 8)) and torch.equal(draws[4], torch.zeros(2, 8))
    assert (draws[[0, 1, 3]].abs() > 0).all()
    if kind == "static":  # one distinct vector per user, the same at every draw
        assert torch.equal(emb.sample(torch.tensor([0]))[0], draws[0])
        assert not torch.equal(draws[0], draws[1])
    if kind == "beta":
        assert ((draws[[0, 1, 3]] > 0) & (draws[[0, 1, 3]] < 1)).all()
        # Beta(2, 5) starting point: mean 2/7 per dimension
        many = emb.sample(torch.zeros(4000, dtype=torch.long)).detach()
        assert abs(float(many.mean()) - 2 / 7) < 0.01


@pytest.mark.parametrize("kind", ["beta", "gaussian"])
def test_every_draw_is_fresh_so_no_embedding_repeats(kind):
    emb = make_embeddings(kind, 3, model())
    draws = emb.sample(torch.tensor([1] * 50)).flatten(1)
    assert torch.unique(draws, dim=0).shape[0] == 50


def test_uploads_carry_one_fresh_draw_each_and_no_user_id():
    emb = make_embeddings("beta", 2, model())
    table = pd.DataFrame({"user": [0, 0, 0, 1, 1, 1], "text": list("abcdef"),
                          "label": [0, 1, 2, 0, 1, 2],
                          "part": ["train", "val", "test", "train", "train", "test"]})
    sent, owners = embedding_uploads(emb, table, seed=1)
    assert set(sent["train"]) == {"text", "label", "embedding"}
    assert set(sent["query"]) == {"text", "embedding"}
    assert sent["train"]["embedding"].shape == (4, 2, 8)
    assert torch.unique(sent["train"]["embedding"].flatten(1), dim=0).shape[0] == 4
    assert sorted(owners["train"].tolist()) == [0, 0, 1, 1]
    by_text = dict(zip(sent["train"]["text"], owners["train"].tolist(), strict=True))
    assert by_text == {"a": 0, "b": 0, "d": 1, "e": 1}


def _two_user_task():
    """User 0's label is always 0 and user 1's always 2, whatever the text."""
    g = torch.Generator().manual_seed(0)
    inputs = torch.randint(2, 20, (80, 6), generator=g)
    users = torch.arange(80) % 2
    return UserSamples(inputs, users * 2, users, 2)


def test_device_stage_learns_each_users_distribution_with_the_model_frozen():
    net = model()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    train = _two_user_task()
    emb = make_embeddings("static", 2, net)
    learn_embeddings(net, emb, train, train, steps=60, batch=8, lr=0.1, closeness=0.0,
                     eval_every=20, seed=0)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    with torch.no_grad():
        logits = net(train.inputs, emb.sample(train.users))
    assert (logits.argmax(1) == train.targets).float().mean() > 0.9


def test_closeness_keeps_beta_distributions_near_the_common_start():
    net = model()
    train = _two_user_task()
    spread = {}
    for weight in [0.0, 100.0]:
        emb = make_embeddings("beta", 2, net)
        learn_embeddings(net, emb, train, train, steps=40, batch=8, lr=0.1, closeness=weight,
                         eval_every=40, seed=0)
        spread[weight] = float((emb.log_alpha[0] - emb.log_alpha[1]).abs().mean())
    assert spread[100.0] < 0.5 * spread[0.0]
