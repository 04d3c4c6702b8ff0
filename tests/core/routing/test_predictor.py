import numpy as np

from dcpipelines.core.routing.predictor import (
    PredictorSpec,
    key_tokens,
    pack_predictor,
    predict_quality,
    train_predictor,
    unpack_predictor,
)


def test_predictor_learns_a_key_token_and_gates_only_real_tokens(marker_world):
    tokens, mask, edge, cloud, marker, words = marker_world()
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


def test_same_seed_same_predictor_and_round_trip(marker_world):
    tokens, mask, edge, cloud, _, _ = marker_world(n=64)
    spec = PredictorSpec(n_dims=2, d_model=16, heads=2, epochs=2)
    first, h1 = train_predictor(spec, tokens, mask, edge, cloud, seed=1)
    second, h2 = train_predictor(spec, tokens, mask, edge, cloud, seed=1)
    assert h1 == h2
    restored = unpack_predictor(pack_predictor(first, h1))
    for a, b in zip(predict_quality(first, tokens, mask), predict_quality(restored, tokens, mask),
                    strict=True):
        assert np.allclose(a, b)


def test_candidate_mask_keeps_the_gate_off_excluded_tokens(marker_world):
    tokens, mask, edge, cloud, marker, words = marker_world()
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
