"""The prefix transformer: shapes with and without the user slot, and batched per-user training."""

import torch

from dcpipelines.core.text.prefix_lm import PrefixLM, Vocab, encode_batch
from dcpipelines.core.text.user_training import UserSamples, fine_tune_per_user, score_per_user


def test_vocab_and_padding_sides():
    vocab = Vocab.fit(["好了没事了", "没事", "x"], "char", min_count=2)
    assert vocab.tokens[:2] == ("<pad>", "<unk>") and set(vocab.tokens[2:]) == {"了", "没", "事"}
    left = encode_batch(vocab, ["没事了好", "了"], 3, left_pad=True)
    assert left.tolist() == [[vocab.encode("事")[0], vocab.encode("了")[0], 1],
                             [0, 0, vocab.encode("了")[0]]]
    words = Vocab.fit(["To be, or not to be", "to be"], "word", min_count=2)
    assert words.encode("TO be!") == [words.tokens.index("to"), words.tokens.index("be"), 1]


def test_classifier_and_generator_shapes_with_and_without_prefix():
    torch.manual_seed(0)
    ids = torch.randint(1, 30, (4, 7))
    clf = PrefixLM(30, dim=16, layers=2, heads=2, max_len=7, n_prefix=2, num_classes=3)
    prefix = torch.rand(4, 2, 16)
    assert clf(ids, prefix).shape == (4, 3) and clf(ids, None).shape == (4, 3)
    # the user slot is read: a different embedding changes the prediction's logits
    assert not torch.allclose(clf(ids, prefix), clf(ids, torch.zeros(4, 2, 16)))
    gen = PrefixLM(30, dim=16, layers=1, heads=2, max_len=7, n_prefix=1)
    logits = gen(ids, torch.rand(4, 1, 16))
    assert logits.shape == (4, 7, 30)
    # causal: the prediction for token 0 does not depend on later tokens
    changed = ids.clone()
    changed[:, 3:] = 5
    pre = torch.rand(4, 1, 16)
    assert torch.allclose(gen(ids, pre)[:, :3], gen(changed, pre)[:, :3], atol=1e-6)


def test_per_user_fine_tuning_learns_each_users_own_labels_in_one_batched_run():
    torch.manual_seed(0)
    users = 5
    inputs = torch.randint(2, 20, (users * 30, 5))
    owner = torch.arange(users).repeat_interleave(30)
    targets = owner % 3  # each user has one label of its own
    data = UserSamples(inputs, targets, owner, users)
    model = PrefixLM(20, dim=16, layers=1, heads=2, max_len=5, num_classes=3)
    params = fine_tune_per_user(model, data, data, steps=40, batch=8, lr=0.01, eval_every=10,
                                seed=0)
    assert params["head.weight"].shape == (users, 3, 16)
    scores = score_per_user(model, params, data)
    assert scores["correct"].mean() > 0.95
    assert not torch.equal(params["head.weight"][0], params["head.weight"][1])
