"""Server optimizer, element-wise gradient norm, validation-only tuning, click splits."""

import pandas as pd
import pytest
import torch
from torch import nn

from dcpipelines.core.federated import LocalConfig, SimulationConfig, make_client
from dcpipelines.core.federated.click_clients import USER_TABLE, build_click_clients
from dcpipelines.core.federated.engine import ServerOptimizer
from dcpipelines.core.federated.gradient_norm import ElementwiseGradientNorm, global_samples
from dcpipelines.core.federated.models import binary_loss
from dcpipelines.core.federated.tuning import Experiment, grid_points, tune


class Bag(nn.Module):
    def __init__(self, rows=6):
        super().__init__()
        self.emb = nn.Embedding(rows, 1, padding_idx=0)
        self.out = nn.Linear(1, 1)

    def forward(self, x):
        return self.out(self.emb(x["ids"]).sum(-2)).squeeze(-1)


def test_server_optimizer_is_fedavgm():
    server = ServerOptimizer(server_lr=2.0, server_momentum=0.5)
    w = {"a": torch.zeros(1)}
    w, moved = server.step(w, {"a": torch.ones(1)})  # v = 1, w = 2
    assert w["a"].item() == pytest.approx(2.0) and moved["a"].item() == pytest.approx(2.0)
    w, _ = server.step(w, {"a": torch.ones(1)})  # v = 0.5 + 1, w = 2 + 3
    assert w["a"].item() == pytest.approx(5.0)
    plain = ServerOptimizer()
    assert plain.step({"a": torch.zeros(1)}, {"a": torch.full((1,), 0.3)})[0]["a"].item() == (
        pytest.approx(0.3))
    with pytest.raises(ValueError, match="server_momentum"):
        ServerOptimizer(1.0, 1.0)


def _two_clients():
    # client 0 involves rows 1, 2; client 1 involves rows 1, 3
    a = make_client(0, {"ids": torch.tensor([[1, 2], [2, 1]])}, torch.tensor([1.0, 0.0]),
                    {"emb.weight": ["ids"]})
    b = make_client(1, {"ids": torch.tensor([[3, 1]])}, torch.tensor([1.0]),
                    {"emb.weight": ["ids"]})
    return [a, b]


def test_global_samples_map_local_ids_back():
    feats, labels = global_samples(_two_clients(), {"emb.weight": ["ids"]})
    assert feats["ids"].tolist() == [[1, 2], [2, 1], [3, 1]]
    assert labels.tolist() == [1.0, 0.0, 1.0]


def test_elementwise_gradient_norm_weights_rows_by_k_over_k_m():
    torch.manual_seed(0)
    model = Bag()
    clients = _two_clients()
    params = dict(model.named_parameters())
    norm = ElementwiseGradientNorm(model, clients, {"emb.weight": ["ids"]}, binary_loss)
    feats, labels = global_samples(clients, {"emb.weight": ["ids"]})
    loss = binary_loss(model(feats), labels).mean()
    grads = dict(zip(params, torch.autograd.grad(loss, list(params.values())), strict=True))
    g = grads["emb.weight"].squeeze(1)
    # K = 2: row 1 is involved by both clients (weight 1), rows 2 and 3 by one (weight 2)
    expected = g[1] ** 2 + 2 * g[2] ** 2 + 2 * g[3] ** 2
    expected = expected + (grads["out.weight"] ** 2).sum() + (grads["out.bias"] ** 2).sum()
    assert norm(params) == pytest.approx(float(expected), rel=1e-5)
    assert norm(params) > float(sum((v ** 2).sum() for v in grads.values()))


def test_tuning_chooses_the_best_final_validation_figure():
    clients = _two_clients()
    x = {"ids": torch.tensor([[1, 2], [3, 1]])}
    y = torch.tensor([1.0, 0.0])

    def score(logits, labels):
        return float(logits.sum())

    exp = Experiment(Bag, clients, binary_loss, score, (x, y), ({"ids": x["ids"]}, y))
    grid = {"lr": [0.01, 1.0], "server": [{"server_lr": 1.0}]}
    config = SimulationConfig(rounds=2, clients_per_round=2, lr=0.1, local=LocalConfig(1, 2))
    table, chosen = tune(exp, {"fedavg": {"strategy": "fedavg"}}, grid, config)
    best = table.loc[table["final_validation"].idxmax()]
    assert table["chosen"].sum() == 1 and bool(best["chosen"])
    run = chosen["fedavg"].rounds.dropna(subset=["test"])
    assert run["validation"].iloc[-1] == pytest.approx(best["final_validation"])
    assert len(grid_points(grid)) == 2


def test_click_clients_hold_out_validation_before_test_and_carry_user_ids():
    rows = []
    for user in (5, 9):
        for position in range(7):
            rows.append({"label": position % 2, "user_id": user, "position": position,
                         "item_id": 10 * user + position, "history": "", "history_length": 0})
    data = build_click_clients(pd.DataFrame(rows), test_per_user=2, validation_per_user=2,
                               user_ids=True)
    assert [c.num_samples for c in data.clients] == [3, 3]
    assert data.test_features["item"].tolist() == [55, 56, 95, 96]
    assert data.validation_features["item"].tolist() == [53, 54, 93, 94]
    assert data.test_features["user"].tolist() == [1, 1, 2, 2] and data.num_users == 3
    assert data.clients[1].rows[USER_TABLE].tolist() == [0, 2]  # padding + its own user row
