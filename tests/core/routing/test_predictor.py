import numpy as np

from dcpipelines.core.routing.predictor import (
    PredictorSpec,
    key_tokens,
    pack_predictor,
    predict_quality,
    train_predictor,
    unpack_predictor,
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
    words = [[f"t{i}" for i in row[:m]] for row, m in zip(ids, lengths, strict=True)]
    return tokens, mask, edge, cloud, has_marker, words


def test_predictor_learns_a_key_token_and_gates_only_real_tokens():
    tokens, mask, edge, cloud, marker, words = _synthetic()
    spec = PredictorSpec(n_dims=2, d_model=32, heads=2, top_k=3, epochs=30, batch_size=32)
    model, history = train_predictor(spec, tokens, mask, edge, cloud, seed=0)
    assert history[-1] < 0.2 * history[0]
    pred_edge, pred_cloud, weights = predict_quality(model, tokens, mask)
    gain = pred_cloud[:, 0] - pred_edge[:, 0]
    assert gain[marker].mean() > gain[~marker].mean() + 0.2
    assert np.allclose(weights.sum(-1), 1.0, atol=1e-5)
    assert (weights[~np.broadcast_to(mask[:, None, :], weights.shape)] == 0).all()
    assert ((weights > 0).sum(-1) <= 3).all()
    chosen = key_tokens(weights, words, dimension=0, top=1)
    assert np.mean([c == ["t0"] for c, m in zip(chosen, marker, strict=True) if m]) > 0.8


def test_same_seed_same_predictor_and_round_trip():
    tokens, mask, edge, cloud, _, _ = _synthetic(n=64)
    spec = PredictorSpec(n_dims=2, d_model=16, heads=2, epochs=2)
    first, h1 = train_predictor(spec, tokens, mask, edge, cloud, seed=1)
    second, h2 = train_predictor(spec, tokens, mask, edge, cloud, seed=1)
    assert h1 == h2
    restored = unpack_predictor(pack_predictor(first, h1))
    for a, b in zip(predict_quality(first, tokens, mask), predict_quality(restored, tokens, mask),
                    strict=True):
        assert np.allclose(a, b)


def test_candidate_mask_keeps_the_gate_off_excluded_tokens():
    tokens, mask, edge, cloud, marker, words = _synthetic()
    candidates = mask.copy()
    candidates[:, 1] = False  # the marker's position may not be selected
    spec = PredictorSpec(n_dims=2, d_model=32, heads=2, top_k=3, epochs=5, batch_size=32)
    model, _ = train_predictor(spec, tokens, mask, edge, cloud, seed=0, candidates=candidates)
    _, _, weights = predict_quality(model, tokens, mask, candidates=candidates)
    assert (weights[:, :, 1] == 0).all()
    assert np.allclose(weights.sum(-1), 1.0, atol=1e-5)


def test_content_mask_drops_special_tokens_punctuation_and_function_words():
    from dcpipelines.core.routing.tokens import TokenBatch

    words = [["[CLS]", "a", "red", "circle", "against", "the", "wall", ".", "[SEP]"],
             ["[CLS]", "of", "the", "[SEP]"]]
    mask = np.zeros((2, 9), bool)
    mask[0, :9], mask[1, :4] = True, True
    batch = TokenBatch(np.zeros((2, 9, 4), np.float32), mask, words)
    content = batch.content_mask()
    assert [w for w, keep in zip(words[0], content[0], strict=True) if keep] == ["red", "circle", "wall"]
    assert (content[1] == mask[1]).all()  # nothing left: fall back to every real token
