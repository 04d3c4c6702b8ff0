"""The scorer, trained briefly on rendered scenes against the real MiniLM text tower, must
recognise the attributes of held-out rendered images."""

import numpy as np
import pytest

from dcpipelines.core.imaging.scenes import (
    DIMENSIONS,
    IMAGE_DIMENSIONS,
    SCENE_DIMENSIONS,
    Group,
    Scene,
    degrade,
    quality_pairs,
    render,
    sample_unique_scenes,
)
from dcpipelines.core.imaging.scorer import (
    ScorerSpec,
    flipped_pair,
    measure_images,
    pack_scorer,
    perturb_any_group,
    scorer_training_set,
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
    scenes = sample_unique_scenes(1, 40, WEIGHTS)
    table = validate_scorer(scorer, scenes, embed_texts)
    assert set(table["dimension"]) == set(DIMENSIONS)
    kinds = table.groupby("kind")["dimension"].agg(set).to_dict()
    assert kinds == {"true": set(DIMENSIONS), "perturbed": set(SCENE_DIMENSIONS),
                     "degraded": set(IMAGE_DIMENSIONS)}
    sizes = table.groupby(["kind", "dimension"]).size()
    assert sizes["degraded"].eq(40).all() and sizes["perturbed"].eq(40).all()
    assert sizes["true", "colour"] == sum(len(s.groups) for s in scenes)
    by_dimension = table[table["kind"] == "true"].groupby("dimension")["correct"].mean()
    assert by_dimension["colour"] >= 0.85
    assert by_dimension["background"] >= 0.85
    assert table["correct"].mean() >= 0.7
    again = validate_scorer(scorer, scenes, embed_texts)
    assert table.equals(again)  # the integrity patches are seeded


def test_a_wrong_image_scores_lower_than_the_right_one(scorer):
    scene = Scene((Group(1, "red", "circle", "large"),), "center", "white", "plain", 1)
    wrong = Scene((Group(1, "blue", "circle", "large"),), "center", "black", "plain", 1)
    rng = np.random.default_rng(0)
    images = np.stack([render(scene), render(wrong)]
                      + [degrade(render(scene), d, rng, scene) for d in IMAGE_DIMENSIONS])
    quality = measure_images(scorer, images, [scene] * len(images), embed_texts)
    assert quality.shape == (len(images), len(DIMENSIONS))
    for dimension in ("colour", "background"):
        d = DIMENSIONS.index(dimension)
        assert quality[0, d] > quality[1, d]
    for row, dimension in enumerate(IMAGE_DIMENSIONS, start=2):
        d = DIMENSIONS.index(dimension)
        assert quality[0, d] > quality[row, d], dimension
    assert ((quality > 0) & (quality < 1)).all()


def test_training_set_reverses_exactly_the_probes_made_false():
    scenes = sample_unique_scenes(4, 60, [0.25, 0.25, 0.25, 0.25])
    clean = scorer_training_set(scenes, 0, ScorerSpec(perturb_fraction=0.0, degrade_fraction=0.0))
    assert all(flip == set() for flip in clean[3])
    assert np.array_equal(clean[0], np.stack([render(s) for s in scenes]))
    degraded = scorer_training_set(scenes, 0, ScorerSpec(perturb_fraction=0.0, degrade_fraction=1.0))
    for scene, flip in zip(scenes, degraded[3], strict=True):
        assert {quality_pairs(scene)[j][0] for j in flip} == set(IMAGE_DIMENSIONS)
    images, captions, pairs, flips = scorer_training_set(scenes, 1, ScorerSpec(degrade_fraction=0.0))
    perturbed = [i for i, f in enumerate(flips) if f]
    assert 15 < len(perturbed) < 45
    for i in perturbed:
        (j,) = flips[i]
        dimension = pairs[i][j][0]
        assert dimension in SCENE_DIMENSIONS
        assert any(j == flipped_pair(scenes[i], dimension, g) for g in range(len(scenes[i].groups)))
        assert not np.allclose(images[i], render(scenes[i]))
    again = scorer_training_set(scenes, 1, ScorerSpec(degrade_fraction=0.0))
    assert np.array_equal(images, again[0]) and flips == again[3]


def test_packed_scorer_gives_the_same_scores(scorer):
    restored = unpack_scorer(pack_scorer(scorer, ScorerSpec(width=16), []))
    scenes = sample_unique_scenes(2, 5, WEIGHTS)
    images = np.stack([render(s) for s in scenes])
    assert np.allclose(measure_images(scorer, images, scenes, embed_texts),
                       measure_images(restored, images, scenes, embed_texts))


def test_either_group_of_a_two_group_scene_is_perturbed():
    scene = Scene((Group(1, "blue", "square", "small"), Group(2, "red", "circle", "small")),
                  "left_of", "white", "plain", 4)
    rng = np.random.default_rng(0)
    hit = set()
    for _ in range(20):
        shown, j = perturb_any_group(scene, "colour", rng)
        group = [k for k in range(2) if shown.groups[k] != scene.groups[k]]
        assert len(group) == 1 and j == flipped_pair(scene, "colour", group[0])
        hit.add(group[0])
    assert hit == {0, 1}
    shown, j = perturb_any_group(scene, "position", rng)  # not a per-group dimension
    assert shown.layout == "right_of" and quality_pairs(scene)[j][0] == "position"
