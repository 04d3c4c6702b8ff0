"""Adapters around local diffusers / transformers models, on tiny random models saved here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dcpipelines.core.data.errors import DataValidationError
from dcpipelines.core.imaging.adapters import ClipScorer, DiffusersGenerator

pytest.importorskip("diffusers")


@pytest.fixture(scope="module")
def sd_folder(tiny_sd_folder):
    return tiny_sd_folder


@pytest.fixture(scope="module")
def clip_folder(tiny_clip_folder):
    return tiny_clip_folder


def test_generator_shapes_range_and_seed(sd_folder):
    gen = DiffusersGenerator(sd_folder, num_inference_steps=2, guidance_scale=1.0, batch_size=2)
    prompts = ["a red cat", "two blue boxes", "a tree"]
    a = gen(prompts, seed=3)
    assert a.shape == (3, 16, 16, 3) and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0 and a.std() > 0
    np.testing.assert_array_equal(a, gen(prompts, seed=3))
    assert not np.array_equal(a, gen(prompts, seed=4))


def test_generator_guidance_uses_the_prompt(sd_folder):
    gen = DiffusersGenerator(sd_folder, num_inference_steps=2, guidance_scale=5.0)
    a = gen(["a red cat"], seed=1)
    b = gen(["zzz qqq 999"], seed=1)
    assert not np.allclose(a, b)


def test_generator_rejects_missing_folder(tmp_path):
    with pytest.raises(DataValidationError, match="model_index.json"):
        DiffusersGenerator(tmp_path)
    with pytest.raises(DataValidationError, match="does not exist"):
        DiffusersGenerator(tmp_path / "nope")


def test_scorer_matches_clip_softmax_and_is_antisymmetric(clip_folder):
    scorer = ClipScorer(clip_folder)
    rng = np.random.default_rng(0)
    images = rng.random((4, 16, 16, 3)).astype(np.float32)
    pos = ["a red cat", "a blue box", "two trees", "a car"]
    neg = ["a dog", "green grass", "one tree", "the sea"]
    q = scorer.quality(images, pos, neg)
    assert q.shape == (4,) and np.all((q > 0) & (q < 1))
    np.testing.assert_allclose(q + scorer.quality(images, neg, pos), 1.0, atol=1e-6)
    np.testing.assert_allclose(scorer.quality(images, pos, pos), 0.5, atol=1e-6)
    # independent path: CLIPModel's own forward, two-way softmax over [pos_i, neg_i]
    with torch.no_grad():
        for i in range(4):
            tokens = scorer.tokenizer([pos[i], neg[i]], padding=True, return_tensors="pt")
            out = scorer.model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"],
                               pixel_values=scorer.pixel_values(images[i:i + 1]))
            expected = out.logits_per_image.softmax(-1)[0, 0].item()
            assert q[i] == pytest.approx(expected, abs=1e-5)


def test_scorer_prefers_the_text_the_image_is_aligned_with(clip_folder):
    """Make the image projection map every image onto the embedding of one text: the scorer must
    then prefer that text over any other, whichever side it is put on."""
    scorer = ClipScorer(clip_folder, scale=50.0)
    target = scorer.embed_texts(["a red cat"])[0]
    proj = scorer.model.visual_projection
    with torch.no_grad():
        proj.weight.zero_()
        proj.weight[:, 0] = torch.as_tensor(target)   # the pooled feature's first unit carries it
    images = np.random.default_rng(1).random((3, 20, 20, 3)).astype(np.float32)
    pooled = scorer.model.vision_model(pixel_values=scorer.pixel_values(images)).pooler_output
    sign = np.sign(pooled[:, 0].detach().numpy())
    q = scorer.quality(images, ["a red cat"] * 3, ["a blue box", "two trees", "a car"])
    assert np.all(np.where(sign > 0, q > 0.5, q < 0.5))
    assert np.all(np.abs(q - 0.5) > 0.01)


def test_scorer_rejects_bad_input(clip_folder, tmp_path):
    scorer = ClipScorer(clip_folder)
    with pytest.raises(ValueError, match="one positive"):
        scorer.quality(np.zeros((2, 8, 8, 3)), ["a"], ["b"])
    with pytest.raises(ValueError, match="N, H, W, 3"):
        scorer.embed_images(np.zeros((2, 8, 8)))
    with pytest.raises(DataValidationError, match="config.json"):
        ClipScorer(tmp_path)


def test_per_prompt_seeds_do_not_depend_on_the_batch(sd_folder):
    gen = DiffusersGenerator(sd_folder, num_inference_steps=2, guidance_scale=1.0, batch_size=3)
    prompts = ["a red cat", "two blue boxes", "a tree"]
    together = gen(prompts, seeds=[11, 12, 13])
    alone = DiffusersGenerator(sd_folder, num_inference_steps=2, guidance_scale=1.0, batch_size=1)(
        prompts[1:2], seeds=[12])
    np.testing.assert_allclose(together[1], alone[0], atol=1e-4)
    assert not np.allclose(together[0], together[1])
    assert gen.parameter_count() > 0
    with pytest.raises(ValueError, match="one seed per prompt"):
        gen(prompts, seeds=[1])


def test_batched_embeddings_and_photo_quality_match_one_pass(clip_folder):
    from dcpipelines.core.imaging.photo_quality import PHOTO_DIMENSIONS, measure_photos, photo_pairs

    images = np.random.default_rng(2).random((5, 16, 16, 3)).astype(np.float32)
    one_pass, batched = ClipScorer(clip_folder, batch_size=64), ClipScorer(clip_folder, batch_size=2)
    np.testing.assert_allclose(one_pass.embed_images(images), batched.embed_images(images), atol=1e-5)
    prompts = ["a red cat", "a tree", "two boxes", "the sea", "a car"]
    q = measure_photos(batched, images, prompts)
    assert q.shape == (5, len(PHOTO_DIMENSIONS))
    for j, name in enumerate(PHOTO_DIMENSIONS):  # same as scoring each dimension on its own
        pairs = [dict((d, (p, n)) for d, p, n in photo_pairs(t))[name] for t in prompts]
        expected = one_pass.quality(images, [p for p, _ in pairs], [n for _, n in pairs])
        np.testing.assert_allclose(q[:, j], expected, atol=1e-5)
