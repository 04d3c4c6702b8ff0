"""Batched per-user fine-tuning (vmap) equals a plain loop over users."""

import torch

from dcpipelines.core.recsys.din import DIN
from dcpipelines.core.recsys.personalize import (
    PersonalDIN,
    UserSets,
    draw_batches,
    finetune_one_user,
    finetune_users,
    item_slots,
    predict_users,
)


def _sets(users=5, n=12, length=4, items=30, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return UserSets(torch.randint(1, items, (users, n), generator=gen),
                    torch.randint(0, items, (users, n, length), generator=gen),
                    torch.randint(0, 2, (users, n), generator=gen).float(),
                    torch.tensor([12, 3, 7, 1, 9])[:users])


def test_item_slots_index_each_users_own_candidate_items():
    sets = _sets()
    queries = torch.cat([sets.item[:, :1], torch.full((5, 1), 29)], dim=1)
    slots, query_slots, num_slots = item_slots(sets, queries)
    for user in range(5):
        real = sets.item[user, :int(sets.count[user])]
        distinct = torch.unique(real)
        assert num_slots >= len(distinct) + 1
        got = slots[user, :int(sets.count[user])]
        assert (got > 0).all()
        for a, b in zip(real.tolist(), got.tolist(), strict=True):  # one slot per item
            assert (got[real == a] == b).all()
        assert query_slots[user, 0] == slots[user, 0]
        assert query_slots[user, 1] == (slots[user, :int(sets.count[user])][real == 29][:1].tolist()
                                        or [0])[0]


def test_batched_fine_tuning_equals_a_per_user_loop():
    torch.manual_seed(0)
    model = DIN(30, 4, 4, 4)
    sets = _sets()
    slots, _, num_slots = item_slots(sets, sets.item[:, :1])
    draws = draw_batches(sets.count, steps=6, batch_size=4, seed=0)
    assert int((draws < sets.count.view(1, -1, 1)).all()) == 1
    batched = finetune_users(model, sets, slots, num_slots, draws, lr=0.3, chunk=2)
    for user in range(5):
        alone = finetune_one_user(model, sets.item[user], slots[user], sets.history[user],
                                  sets.label[user], num_slots, draws[:, user], lr=0.3)
        for name, value in alone.items():
            torch.testing.assert_close(batched[name][user], value, atol=1e-5, rtol=1e-4)
    # fine-tuning moved the models away from the cloud model, differently per user
    assert not torch.allclose(batched["head.2.bias"][0], batched["head.2.bias"][1])


def test_untouched_personal_models_score_like_the_cloud_model():
    torch.manual_seed(1)
    model = DIN(30, 4, 4, 4)
    sets = _sets()
    slots, query_slots, num_slots = item_slots(sets, sets.item[:, :3])
    no_steps = draw_batches(sets.count, steps=0, batch_size=4, seed=0)
    params = finetune_users(model, sets, slots, num_slots, no_steps, lr=0.3)
    got = predict_users(model, params, sets.item[:, :3], query_slots, sets.history[:, :3])
    with torch.no_grad():
        want = model({"item": sets.item[:, :3], "history": sets.history[:, :3]})
    torch.testing.assert_close(got, want)


def test_a_users_personal_module_scores_like_its_batched_personal_model():
    torch.manual_seed(2)
    model = DIN(30, 4, 4, 4)
    sets = _sets()
    queries = torch.randint(1, 30, (5, 6))
    queries[:, :2] = sets.item[:, :2]  # some queries have personal slots
    history = torch.randint(0, 30, (5, 6, 4))
    slots, query_slots, num_slots = item_slots(sets, queries)
    draws = draw_batches(sets.count, steps=5, batch_size=4, seed=1)
    params = finetune_users(model, sets, slots, num_slots, draws, lr=0.5)
    want = predict_users(model, params, queries, query_slots, history)
    for user in range(5):
        real = int(sets.count[user])
        module = PersonalDIN(model, {k: v[user] for k, v in params.items()},
                             sets.item[user, :real], slots[user, :real])
        with torch.no_grad():
            got = module(torch.cat([queries[user].unsqueeze(1), history[user]], dim=1))
        torch.testing.assert_close(got, want[user])
