"""The scorer, trained briefly on rendered scenes against the real MiniLM text tower, must
recognise the attributes of held-out rendered images."""

import numpy as np
import pytest

from dcpipelines.core.imaging.scenes import Group, Scene, blur, render, sample_unique_scenes
from dcpipelines.core.imaging.scorer import (
    ScorerSpec,
    measure_images,
    pack_scorer,
    train_scorer,
    unpack_scorer,
    validate_scorer,
)
from dcpipelines.core.text.encoder import embed_texts

WEIGHTS = [0.3, 0.4, 0.3, 0.0]


@pytest.fixture(scope="module")
def scorer():
    spec = ScorerSpec(width=16, epochs=15, batch_size=32)
    model, history = train_scorer(sample_unique_scenes(0, 800, WEIGHTS), embed_texts, spec, seed=0)
    assert history[-1] < history[0]
    return model


def test_scorer_agrees_with_ground_truth_on_held_out_renders(scorer):
    table = validate_scorer(scorer, sample_unique_scenes(1, 40, WEIGHTS), embed_texts)
    by_dimension = table[table["kind"] == "true"].groupby("dimension")["correct"].mean()
    assert by_dimension["colour"] >= 0.85
    assert by_dimension["background"] >= 0.85
    assert table["correct"].mean() >= 0.7


def test_a_wrong_image_scores_lower_than_the_right_one(scorer):
    scene = Scene((Group(1, "red", "circle", "large"),), "center", "white", "plain", 1)
    wrong = Scene((Group(1, "blue", "circle", "large"),), "center", "black", "plain", 1)
    images = np.stack([render(scene), render(wrong), blur(render(scene))])
    quality = measure_images(scorer, images, [scene] * 3, embed_texts)
    colour, background, sharpness = 0, 4, 5
    assert quality[0, colour] > quality[1, colour]
    assert quality[0, background] > quality[1, background]
    assert quality[0, sharpness] > quality[2, sharpness]
    assert ((quality > 0) & (quality < 1)).all()


def test_packed_scorer_gives_the_same_scores(scorer):
    restored = unpack_scorer(pack_scorer(scorer, ScorerSpec(width=16), []))
    scenes = sample_unique_scenes(2, 5, WEIGHTS)
    images = np.stack([render(s) for s in scenes])
    assert np.allclose(measure_images(scorer, images, scenes, embed_texts),
                       measure_images(restored, images, scenes, embed_texts))
