"""Batched local SGD, round planning with dropout, and whole simulations."""

import numpy as np
import pytest
import torch
from torch import nn

from dcpipelines.core.federated import (
    FedAvg,
    FedProx,
    LocalConfig,
    SimulationConfig,
    dirichlet_label_split,
    make_client,
    make_strategy,
    plan_round,
    run_federated,
    train_cohort,
)
from dcpipelines.core.federated.local import client_generator
from dcpipelines.core.federated.models import binary_loss
from dcpipelines.core.recsys.din import DIN


class Bag(nn.Module):
    """Tiny sparse model: sum of the embeddings of the ids plus a dense bias."""

    def __init__(self, rows=10):
        super().__init__()
        self.emb = nn.Embedding(rows, 1, padding_idx=0)
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return self.emb(x["ids"]).sum((-1, -2)) + self.bias


def _clients(seed=0, count=6):
    g = torch.Generator().manual_seed(seed)
    clients = []
    for i in range(count):
        n = 3 + i
        ids = torch.randint(1, 10, (n, 2), generator=g)
        labels = torch.randint(0, 2, (n,), generator=g).float()
        clients.append(make_client(i, {"ids": ids}, labels, {"emb.weight": ["ids"]}))
    return clients


def _sequential_sgd(model, client, lr, order, batch):
    """Reference: plain per-client SGD with autograd and a fresh module."""
    local = Bag()
    local.load_state_dict(model.state_dict())
    opt = torch.optim.SGD(local.parameters(), lr=lr)
    ids = client.rows["emb.weight"][client.features["ids"]]  # back to global ids
    for start in range(0, len(order), batch):
        b = order[start:start + batch]
        opt.zero_grad()
        binary_loss(local({"ids": ids[b]}), client.labels[b]).mean().backward()
        opt.step()
    return local


def test_batched_cohort_matches_sequential_sgd_per_client():
    torch.manual_seed(0)
    model = Bag()
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    clients = _clients()
    updates = train_cohort(model, params, clients, binary_loss, lr=0.5,
                           config=LocalConfig(1, 2), order_seed=3)
    # each client shuffles with its own generator
    orders = {c.client_id: torch.randperm(c.num_samples, generator=client_generator(3, c.client_id))
              for c in clients}
    for client, update in zip(clients, updates, strict=True):
        ref = _sequential_sgd(model, client, 0.5, orders[client.client_id], 2)
        rows = update.sparse["emb.weight"]
        expected = ref.emb.weight.detach()[rows.row_ids] - model.emb.weight.detach()[rows.row_ids]
        torch.testing.assert_close(rows.values, expected)
        torch.testing.assert_close(update.dense["bias"], ref.bias.detach() - model.bias.detach())
        assert update.num_samples == client.num_samples
        # only the client's rows travel
        assert set(rows.row_ids.tolist()) == {0, *client.rows["emb.weight"].tolist()}


def test_a_clients_update_does_not_depend_on_its_cohort():
    torch.manual_seed(0)
    model = Bag()
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    clients = _clients()
    kwargs = dict(lr=0.5, config=LocalConfig(2, 2), order_seed=4)
    together = train_cohort(model, params, clients, binary_loss, **kwargs)
    alone = train_cohort(model, params, [clients[2]], binary_loss, **kwargs)[0]
    torch.testing.assert_close(together[2].dense["bias"], alone.dense["bias"])
    torch.testing.assert_close(together[2].sparse["emb.weight"].values,
                               alone.sparse["emb.weight"].values)


def test_fedprox_term_pulls_towards_the_global_model():
    torch.manual_seed(0)
    model = Bag()
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    kwargs = dict(lr=0.5, config=LocalConfig(3, 2))
    plain = train_cohort(model, params, _clients(), binary_loss,
                         order_seed=1, **kwargs)
    prox = train_cohort(model, params, _clients(), binary_loss, proximal_mu=1.0,
                        order_seed=1, **kwargs)
    assert sum(u.dense["bias"].abs().sum() for u in prox) < sum(
        u.dense["bias"].abs().sum() for u in plain)


def test_plan_round_drops_the_configured_fraction():
    rng = np.random.default_rng(0)
    plan = plan_round(20, 10, 0.3, rng)
    assert len(plan.sampled) == 10 and len(set(plan.sampled)) == 10
    assert len(plan.dropped) == 3 and set(plan.dropped) <= set(plan.sampled)
    assert len(plan.answering) == 7 and not set(plan.answering) & set(plan.dropped)
    with pytest.raises(ValueError, match="dropout"):
        plan_round(20, 10, 1.0, rng)


def test_dropped_clients_send_nothing_and_rounds_continue(caplog):
    caplog.set_level("INFO", logger="dcpipelines.core.federated.engine")
    torch.manual_seed(0)
    seen = []
    config = SimulationConfig(rounds=4, clients_per_round=5, lr=0.1, dropout=0.4,
                              local=LocalConfig(1, 2), seed=5)
    history = run_federated(Bag(), _clients(count=8), FedAvg(), binary_loss, config,
                            on_updates=lambda t, ups: seen.append(len(ups)))
    assert history.dropped == [2, 2, 2, 2]
    assert seen == [3, 3, 3, 3] and history.client_updates == 12
    assert "8 sampled clients dropped out over 4 rounds" in caplog.text


def test_same_seed_same_model_and_strategies_share_clients():
    def run(strategy, seed=5):
        torch.manual_seed(0)
        config = SimulationConfig(rounds=3, clients_per_round=4, lr=0.2,
                                  local=LocalConfig(1, 2), seed=seed)
        return run_federated(Bag(), _clients(count=8), strategy, binary_loss, config)

    a, b = run(FedAvg()), run(FedAvg())
    for k in a.params:
        assert torch.equal(a.params[k], b.params[k])
    assert not torch.equal(run(FedProx(10.0)).params["bias"], a.params["bias"])


def test_fedsubavg_learns_on_din_and_moves_cold_rows_further():
    g = torch.Generator().manual_seed(0)
    clients = []
    for i in range(12):
        # item i+1 is clicked only by client i (a cold row); item 20 by everybody (hot)
        items = torch.tensor([i + 1, 20] * 4)
        history = torch.randint(13, 20, (8, 3), generator=g)  # never the cold items
        labels = torch.tensor([1.0, 0.0] * 4)
        clients.append(make_client(i, {"item": items, "history": history}, labels,
                                   {"item_embedding.weight": ["item", "history"]}))
    rows = {"item_embedding.weight": [c.rows["item_embedding.weight"] for c in clients]}
    moved = {}
    for name in ["fedavg", "fedsubavg"]:
        torch.manual_seed(0)
        model = DIN(21, dim=4, attention_hidden=4, hidden=4)
        start = model.item_embedding.weight.detach().clone()
        strategy = make_strategy(name, client_rows=rows, client_samples=[8] * 12,
                                 num_rows={"item_embedding.weight": 21})
        config = SimulationConfig(rounds=2, clients_per_round=6, lr=0.1,
                                  local=LocalConfig(1, 4), seed=1)
        history = run_federated(model, clients, strategy, binary_loss, config)
        moved[name] = (history.params["item_embedding.weight"] - start)[1:13].norm()
    # a cold row is scaled by c = 12 (12 clients, 1 involves it): far more movement
    assert moved["fedsubavg"] > 5 * moved["fedavg"]


def test_dirichlet_split_covers_every_sample_once():
    labels = np.repeat(np.arange(5), 40)
    parts = dirichlet_label_split(labels, 8, 0.5, seed=1)
    joined = np.sort(np.concatenate(parts))
    assert np.array_equal(joined, np.arange(200))
    assert min(len(p) for p in parts) >= 2
    with pytest.raises(ValueError, match="alpha"):
        dirichlet_label_split(labels, 8, 0.0, seed=1)
