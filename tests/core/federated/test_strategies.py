"""Strategies on hand-made updates whose aggregate is known by hand."""

import pytest
import torch

from dcpipelines.core.federated import (
    ClientUpdate,
    FedAvg,
    FedProx,
    FedSubAvg,
    SparseRows,
    make_strategy,
    row_heat,
)

TABLE = "emb"
SHAPES = {TABLE: torch.Size([4, 2]), "w": torch.Size([3])}
# Three clients of 1, 1 and 2 samples. Row 1: only client 0. Row 2: clients 0 and 2. Row 3:
# everybody. Row 0 is padding (all involve it, zero delta).
ROWS = [torch.tensor([0, 1, 2, 3]), torch.tensor([0, 3]), torch.tensor([0, 2, 3])]
SAMPLES = [1, 1, 2]


def _updates():
    def sparse(rows, fill):
        values = torch.stack([torch.full((2,), 0.0 if r == 0 else fill * r) for r in rows.tolist()])
        return {TABLE: SparseRows(rows, values)}

    return [
        ClientUpdate(0, 1, {"w": torch.tensor([1.0, 0.0, 0.0])}, sparse(ROWS[0], 1.0)),
        ClientUpdate(1, 1, {"w": torch.tensor([0.0, 1.0, 0.0])}, sparse(ROWS[1], 10.0)),
        ClientUpdate(2, 2, {"w": torch.tensor([0.0, 0.0, 1.0])}, sparse(ROWS[2], 100.0)),
    ]


def _fedsubavg(heat="samples"):
    return FedSubAvg({TABLE: ROWS}, SAMPLES, {TABLE: 4}, heat)


def test_fedavg_weights_by_samples_and_dilutes_cold_rows():
    delta = FedAvg().aggregate(_updates(), SHAPES)
    torch.testing.assert_close(delta["w"], torch.tensor([0.25, 0.25, 0.5]))
    # row 1 is touched by client 0 only (delta 1): FedAvg gives it a quarter of it
    torch.testing.assert_close(delta[TABLE][1], torch.full((2,), 0.25))
    torch.testing.assert_close(delta[TABLE][0], torch.zeros(2))


def test_fedsubavg_row_touched_by_one_client_gets_that_clients_update():
    delta = _fedsubavg().aggregate(_updates(), SHAPES)
    torch.testing.assert_close(delta[TABLE][1], torch.full((2,), 1.0))
    # row 2: clients 0 (1 sample, delta 2) and 2 (2 samples, delta 200): their weighted mean
    torch.testing.assert_close(delta[TABLE][2], torch.full((2,), (1 * 2 + 2 * 200) / 3))
    # row 3, involved by everybody: plain FedAvg
    torch.testing.assert_close(delta[TABLE][3], torch.full((2,), (3 + 30 + 2 * 300) / 4))
    # dense parameters keep c = 1
    torch.testing.assert_close(delta["w"], FedAvg().aggregate(_updates(), SHAPES)["w"])


def test_client_count_heat_scales_by_clients():
    assert row_heat(ROWS, SAMPLES, 4, "clients").tolist() == [3, 1, 2, 3]
    assert row_heat(ROWS, SAMPLES, 4, "samples").tolist() == [4, 1, 3, 4]
    delta = _fedsubavg("clients").aggregate(_updates(), SHAPES)
    # c_1 = K / K_1 = 3: 3 x (1 x 1 / 4)
    torch.testing.assert_close(delta[TABLE][1], torch.full((2,), 0.75))


def test_fedsubavg_expected_row_update_is_mean_of_involved_clients():
    # Sampling one client of the three uniformly: E[delta of row 1] = client 0's update
    # weighted as FedAvg would do with samples, scaled by N / N_r.
    strategy = _fedsubavg()
    updates = _updates()
    rows = [strategy.aggregate([u], SHAPES)[TABLE][1, 0] for u in updates]
    # a lone sampled client gets n_i / n_i = 1 weight, so row 1 moves by c_1 * 1 when client 0
    # is sampled, else 0; c_1 = 4 and client 0 holds 1/4 of the samples
    assert [float(r) for r in rows] == [4.0, 0.0, 0.0]


def test_no_updates_gives_zero_delta():
    delta = FedAvg().aggregate([], SHAPES)
    assert all(float(d.abs().sum()) == 0.0 for d in delta.values())


def test_make_strategy_names_and_errors():
    assert isinstance(make_strategy("fedprox", mu=0.1), FedProx)
    assert make_strategy("fedprox", mu=0.1).proximal_mu == 0.1
    with pytest.raises(ValueError, match="unknown strategy"):
        make_strategy("fedsgd")
    with pytest.raises(ValueError, match="needs each client's rows"):
        make_strategy("fedsubavg")
    with pytest.raises(ValueError, match="mu must be"):
        FedProx(-1.0)


def test_sparse_rows_shape_is_checked():
    with pytest.raises(ValueError, match="one value row per row id"):
        SparseRows(torch.tensor([1, 2]), torch.zeros(3, 2))
