import numpy as np
import pytest
import torch

from dcpipelines.core.routing.dual_gate import (
    DualGateSpec,
    ServedPredictor,
    pack_dual_gate,
    predict_dual_gate,
    train_dual_gate,
    unpack_dual_gate,
)


def _synthetic(n=256, length=7, seed=0):
    """Token sequences where one marker token decides the cloud's advantage on dimension 0."""
    rng = np.random.default_rng(seed)
    vocab = rng.normal(size=(20, 384)).astype(np.float32)
    ids = rng.integers(1, 20, size=(n, length))
    lengths = rng.integers(4, length + 1, size=n)
    mask = np.arange(length)[None, :] < lengths[:, None]
    has_marker = rng.random(n) < 0.5
    ids[has_marker, 1] = 0  # token 0 is the marker
    tokens = vocab[ids] * mask[..., None]
    edge = np.full((n, 2), 0.5)
    cloud = np.full((n, 2), 0.5)
    cloud[:, 0] = np.where(has_marker, 0.9, 0.5)
    return tokens, mask, edge, cloud, has_marker


def test_dual_gate_learns_a_key_token_with_top_k_gates_per_metric():
    tokens, mask, edge, cloud, marker = _synthetic()
    spec = DualGateSpec(n_dims=2, d_model=32, heads=2, rank=8, score_dim=8, top_k=3, epochs=30, batch_size=32,
                        target="qualities")
    model, history = train_dual_gate(spec, tokens, mask, edge, cloud, seed=0)
    assert history[-1] < 0.2 * history[0]
    outputs, weights = predict_dual_gate(model, tokens, mask)
    assert outputs.shape == (len(tokens), 2, 2) and weights.shape == (len(tokens), 2, tokens.shape[1])
    gain = outputs[:, 0, 1] - outputs[:, 0, 0]
    assert gain[marker].mean() > gain[~marker].mean() + 0.2
    assert np.allclose(weights.sum(-1), 1.0, atol=1e-5)
    assert (weights[~np.broadcast_to(mask[:, None, :], weights.shape)] == 0).all()
    assert ((weights > 0).sum(-1) <= 3).all()  # each metric's expert keeps its top-3 tokens only


@pytest.mark.parametrize("switches, experts, gated", [
    ({}, 2, 3), ({"multi_metric": False}, 1, 3), ({"token_selection": False}, 2, 7), ({"dual_gate": False}, 2, 3)])
def test_ablation_switches_change_the_architecture(switches, experts, gated):
    tokens, mask, edge, cloud, _ = _synthetic(n=16)
    mask[:] = True
    spec = DualGateSpec(n_dims=2, d_model=16, heads=2, rank=4, score_dim=4, top_k=3, epochs=1, **switches)
    model, _ = train_dual_gate(spec, tokens, mask, edge, cloud, seed=0)
    outputs, weights = predict_dual_gate(model, tokens, mask)
    assert outputs.shape == (16, experts, 1)
    assert ((weights > 0).sum(-1) == gated).all()
    assert (model.negative is None) == (switches == {"dual_gate": False})


def test_same_seed_same_predictor_round_trip_and_served_form():
    tokens, mask, edge, cloud, _ = _synthetic(n=64)
    spec = DualGateSpec(n_dims=2, d_model=16, heads=2, rank=4, score_dim=4, epochs=2)
    first, h1 = train_dual_gate(spec, tokens, mask, edge, cloud, seed=1)
    second, h2 = train_dual_gate(spec, tokens, mask, edge, cloud, seed=1)
    assert h1 == h2
    restored = unpack_dual_gate(pack_dual_gate(first, h1))
    for a, b in zip(predict_dual_gate(first, tokens, mask), predict_dual_gate(restored, tokens, mask), strict=True):
        assert np.allclose(a, b)
    served = ServedPredictor(first)(torch.as_tensor(tokens)).detach().numpy()
    assert np.allclose(served, predict_dual_gate(first, tokens, mask)[0], atol=1e-6)


def test_distance_heads_learn_the_published_prs_terms():
    """Heads trained on the PRS's D_i: on marked prompts the cloud is far better on dimension 0
    (D_0 near 0), elsewhere the sides tie (D_0 = 1/2); dimension 1 always ties."""
    from dcpipelines.core.routing.dual_gate import targets
    from dcpipelines.core.routing.pareto import normalised_distances

    tokens, mask, edge, cloud, marker = _synthetic()
    spec = DualGateSpec(n_dims=2, d_model=32, heads=2, rank=8, score_dim=8, top_k=3, epochs=30, batch_size=32)
    y = targets(edge, cloud, spec)
    assert y.shape == (len(tokens), 2, 1)
    assert np.allclose(y[..., 0], normalised_distances(edge, cloud, edge.mean(0), cloud.mean(0)))
    assert np.allclose(targets(edge, cloud, DualGateSpec(n_dims=2, multi_metric=False))[:, 0, 0], y[..., 0].mean(1))
    model, history = train_dual_gate(spec, tokens, mask, edge, cloud, seed=0)
    assert history[-1] < 0.2 * history[0]
    d = predict_dual_gate(model, tokens, mask)[0][..., 0]
    assert d[marker, 0].mean() < 0.15 and abs(d[~marker, 0].mean() - 0.5) < 0.1
    assert abs(d[:, 1].mean() - 0.5) < 0.1
    with pytest.raises(ValueError, match="target"):
        DualGateSpec(n_dims=2, target="gain")
