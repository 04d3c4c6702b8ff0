"""Adapters around local diffusers / transformers models, on tiny random models saved here."""

from __future__ import annotations

import json
import string

import numpy as np
import pytest
import torch

from dcpipelines.core.data.errors import DataValidationError
from dcpipelines.core.imaging.adapters import ClipScorer, DiffusersGenerator

pytest.importorskip("diffusers")


def _tokenizer(folder):
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    symbols = list(string.ascii_lowercase + string.digits)
    tokens = ["<|startoftext|>", "<|endoftext|>"] + symbols + [s + "</w>" for s in symbols]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"),
                        unk_token="<|endoftext|>", pad_token="<|endoftext|>", model_max_length=16)
    return tok, len(tokens)


def _text_config(vocab: int):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(vocab_size=vocab, hidden_size=32, intermediate_size=37, num_attention_heads=4,
                          num_hidden_layers=2, max_position_embeddings=32, projection_dim=16,
                          bos_token_id=0, eos_token_id=1, pad_token_id=1)


@pytest.fixture(scope="module")
def sd_folder(tmp_path_factory):
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextModel

    folder = tmp_path_factory.mktemp("tiny_sd")
    torch.manual_seed(0)
    tok, vocab = _tokenizer(folder / "tok_src")
    unet = UNet2DConditionModel(block_out_channels=(8, 16), layers_per_block=1, sample_size=8,
                                in_channels=4, out_channels=4, norm_num_groups=4,
                                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                                cross_attention_dim=32, attention_head_dim=4)
    vae = AutoencoderKL(block_out_channels=(8, 16), in_channels=3, out_channels=3, norm_num_groups=4,
                        down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, sample_size=16)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=CLIPTextModel(_text_config(vocab)), tokenizer=tok,
                                   unet=unet, scheduler=DDIMScheduler(clip_sample=False, steps_offset=1), safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder / "pipe")
    return folder / "pipe"


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    from transformers import CLIPConfig, CLIPModel, CLIPVisionConfig

    folder = tmp_path_factory.mktemp("tiny_clip")
    torch.manual_seed(0)
    tok, vocab = _tokenizer(folder / "tok_src")
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
                              image_size=16, patch_size=4, projection_dim=16)
    config = CLIPConfig(text_config=_text_config(vocab).to_dict(), vision_config=vision.to_dict(),
                        projection_dim=16)
    CLIPModel(config).save_pretrained(folder / "clip")
    tok.save_pretrained(folder / "clip")
    return folder / "clip"


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
