"""The Fed-Influence estimator against exact leave-one-out retraining."""

import numpy as np
import pandas as pd
import pytest
import torch

from dcpipelines.core.data.errors import DataValidationError
from dcpipelines.core.federated import influence as fi
from dcpipelines.core.federated.digits_clients import (
    as_module,
    flip_labels,
    init_params,
    make_loss,
    make_problem,
    split_digits,
)


def _quadratic(local_steps=3, rounds=12, seed=0):
    """Client i's loss 0.5 (theta - a_i)^T A_i (theta - a_i): local GD is linear in theta."""
    g = torch.Generator().manual_seed(seed)
    k, p = 5, 4
    m = torch.randn(k, p, p, generator=g)
    a_mat = m @ m.transpose(1, 2) / p + 0.2 * torch.eye(p)
    centres = torch.randn(k, p, generator=g)

    def loss(theta, data):
        r = theta - data["a"]
        return 0.5 * r @ data["A"] @ r

    return fi.FederatedProblem(loss, {"A": a_mat, "a": centres},
                               torch.tensor([3.0, 5.0, 2.0, 7.0, 4.0]), torch.zeros(p),
                               rounds=rounds, local_steps=local_steps, lr=0.1)


@pytest.mark.parametrize("local_steps", [1, 3])
def test_estimate_is_exact_leave_one_out_on_a_quadratic(local_steps):
    problem = _quadratic(local_steps)
    run = fi.train_with_influence(problem)
    loo = fi.leave_one_out(problem)
    assert loo.abs().max() > 0.1  # removing a client matters
    torch.testing.assert_close(run.delta, loo, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(run.theta, fi.train(problem))


def _sampled_quadratic(clients_per_round, batch_size, seed=0):
    """Per-sample quadratic losses with a sample mask: local SGD stays linear in theta."""
    g = torch.Generator().manual_seed(seed)
    k, n_max, p = 6, 5, 3
    m = torch.randn(k, p, p, generator=g)
    a_mat = m @ m.transpose(1, 2) / p + 0.3 * torch.eye(p)
    points = torch.randn(k, n_max, p, generator=g)
    sizes = torch.tensor([5, 2, 4, 3, 5, 1])
    mask = (torch.arange(n_max)[None, :] < sizes[:, None]).float()

    def loss(theta, data):
        r = theta[None, :] - data["x"]
        per = 0.5 * torch.einsum("np,pq,nq->n", r, data["A"], r)
        return (per * data["mask"]).sum() / data["mask"].sum().clamp(min=1.0)

    return fi.FederatedProblem(loss, {"A": a_mat, "x": points, "mask": mask}, sizes.float(),
                               torch.zeros(p), rounds=10, local_steps=3, lr=0.1,
                               clients_per_round=clients_per_round, batch_size=batch_size,
                               schedule_seed=seed)


@pytest.mark.parametrize(("clients_per_round", "batch_size"), [(3, 2), (1, 2), (6, 1), (4, None)])
def test_estimate_is_exact_under_partial_participation_and_mini_batches(clients_per_round,
                                                                       batch_size):
    problem = _sampled_quadratic(clients_per_round, batch_size)
    run = fi.train_with_influence(problem)
    loo = fi.leave_one_out(problem)
    assert loo.abs().max() > 0.05
    torch.testing.assert_close(run.delta, loo, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(run.theta, fi.train(problem))


def test_schedule_samples_clients_and_batches_from_the_seed():
    problem = _sampled_quadratic(3, 2)
    plans, again = fi.schedule(problem), fi.schedule(problem)
    assert all(torch.equal(a.clients, b.clients) and torch.equal(a.batches, b.batches)
               for a, b in zip(plans, again, strict=True))
    assert {len(p.clients) for p in plans} == {3}
    assert len({tuple(p.clients.tolist()) for p in plans}) > 1  # not the same clients each round
    for plan in plans:
        per_step = plan.batches.sum(-1)  # each step: min(batch, n_i) real samples
        expected = problem.client_sizes[plan.clients].clamp(max=2)
        assert torch.equal(per_step, expected[:, None].expand_as(per_step))
        assert (plan.batches <= problem.client_data["mask"][plan.clients][:, None, :]).all()


def test_tracking_a_subset_gives_the_same_rows_as_tracking_everyone():
    problem = _sampled_quadratic(3, 2)
    full = fi.train_with_influence(problem)
    subset = fi.train_with_influence(problem, tracked=[4, 1])
    assert subset.tracked == [4, 1]
    torch.testing.assert_close(subset.delta, full.delta[[4, 1]])
    torch.testing.assert_close(fi.leave_one_out(problem, [4, 1]), fi.leave_one_out(problem)[[4, 1]])


def test_subset_tracking_costs_fewer_flops():
    problem = _sampled_quadratic(3, 2)
    plain = fi.count_flops(lambda: fi.train(problem))
    full = fi.count_flops(lambda: fi.train_with_influence(problem))
    one = fi.count_flops(lambda: fi.train_with_influence(problem, tracked=[0]))
    assert plain < one < full


def test_agreement_of_identical_and_opposite_rows():
    true = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    cosine, relative = fi.agreement(torch.tensor([[1.0, 0.0], [0.0, -2.0]]), true)
    torch.testing.assert_close(cosine, torch.tensor([1.0, -1.0]))
    torch.testing.assert_close(relative, torch.tensor([0.0, 2.0]))


def test_one_local_step_matches_the_hessian_recursion():
    # Delta_{t+1} = (I - lr sum_{i!=k} p^-k_i A_i) Delta_t + lr (g - g^-k) by hand
    problem = _quadratic(local_steps=1, rounds=4)
    a_mat, centres = problem.client_data["A"], problem.client_data["a"]
    n = problem.client_sizes
    theta = problem.init.clone()
    delta = torch.zeros(5, 4)
    for _ in range(problem.rounds):
        grads = torch.einsum("kpq,kq->kp", a_mat, theta - centres)
        new = []
        for k in range(5):
            w = n.clone()
            w[k] = 0
            w = w / w.sum()
            h = torch.einsum("k,kpq->pq", w, a_mat)
            g_all, g_wo = (n / n.sum()) @ grads, w @ grads
            new.append(delta[k] - problem.lr * (h @ delta[k]) - problem.lr * (g_wo - g_all))
        delta = torch.stack(new)
        theta = theta - problem.lr * (n / n.sum()) @ grads
    torch.testing.assert_close(fi.train_with_influence(problem).delta, delta, atol=1e-6,
                               rtol=1e-5)


def test_first_order_loss_change_is_close_for_small_moves():
    def loss(theta):
        return (theta**2).sum()

    theta = torch.tensor([1.0, 2.0])
    delta = torch.tensor([[1e-3, 0.0], [0.0, -1e-3]])
    torch.testing.assert_close(fi.loss_change(loss, theta, delta),
                               fi.true_loss_change(loss, theta, delta), atol=1e-5, rtol=1e-2)


def _digits(n=400, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.random((n, 64)), columns=[f"pixel_{i}" for i in range(64)])
    frame.insert(0, "label", rng.integers(0, 10, n))
    frame.insert(0, "sample_id", np.arange(n))
    return frame


def test_digits_split_and_label_flipping():
    split = split_digits(_digits(), num_clients=6, alpha=0.5, val_fraction=0.1,
                         test_fraction=0.1, seed=0)
    assert int(split.client_sizes.sum()) == 400 - 80
    assert int(split.client_data["mask"].sum()) == 320
    bad = flip_labels(split, [2])
    mask = split.client_data["mask"][2].bool()
    assert torch.equal(bad.client_data["y"][2][mask], 9 - split.client_data["y"][2][mask])
    assert torch.equal(bad.client_data["y"][0], split.client_data["y"][0])
    problem = make_problem(split, {"kind": "mlp", "hidden": 4, "l2": 0.0},
                           {"rounds": 2, "local_steps": 1, "lr": 0.1}, seed=0)
    assert problem.init.numel() == 64 * 4 + 4 + 4 * 10 + 10


def test_digits_without_pixels_is_rejected():
    with pytest.raises(DataValidationError, match="digits.*pixel_63.*ingest"):
        split_digits(_digits().drop(columns=["pixel_63"]), num_clients=4, alpha=1.0,
                     val_fraction=0.1, test_fraction=0.1, seed=0)


def test_partial_label_flips_touch_the_given_share_of_real_samples():
    split = split_digits(_digits(), num_clients=4, alpha=1.0, val_fraction=0.1,
                         test_fraction=0.1, seed=0)
    bad = flip_labels(split, [1], fraction=0.3, seed=3)
    changed = int((bad.client_data["y"][1] != split.client_data["y"][1]).sum())
    real = int(split.client_sizes[1])
    # 9 - y differs from y for every digit, so every flipped label changes
    assert changed == round(0.3 * real)
    assert torch.equal(bad.client_data["y"][0], split.client_data["y"][0])
    with pytest.raises(ValueError, match="fraction"):
        flip_labels(split, [1], fraction=0.0)


@pytest.mark.parametrize("model", [{"kind": "logistic", "l2": 0.0},
                                   {"kind": "mlp", "hidden": 5, "l2": 0.0}])
def test_exported_module_gives_the_flat_models_logits(model):
    theta = init_params(model["kind"], model.get("hidden", 0), seed=1) + 0.1 * torch.randn(
        init_params(model["kind"], model.get("hidden", 0), seed=1).numel())
    _, logits = make_loss(model["kind"], model.get("hidden", 0), 0.0)
    x = torch.rand(3, 64)
    torch.testing.assert_close(as_module(model, theta)(x), logits(theta, x))
