import numpy as np
import pytest

from dcpipelines.core.imaging.scenes import (
    COLOURS,
    DIMENSIONS,
    Group,
    Scene,
    blur,
    perturb,
    placements,
    prompt_for,
    quality_pairs,
    render,
    sample_unique_scenes,
)

WEIGHTS = [0.25, 0.25, 0.25, 0.25]


def test_same_seed_same_scenes_prompts_and_pixels():
    first, second = sample_unique_scenes(3, 40, WEIGHTS), sample_unique_scenes(3, 40, WEIGHTS)
    assert [prompt_for(s) for s in first] == [prompt_for(s) for s in second]
    assert all(np.array_equal(render(a), render(b)) for a, b in zip(first, second, strict=True))
    other = sample_unique_scenes(4, 40, WEIGHTS)
    assert [prompt_for(s) for s in other] != [prompt_for(s) for s in first]


def test_prompts_are_distinct_and_levels_follow_the_weights():
    scenes = sample_unique_scenes(0, 200, [0.0, 0.0, 0.0, 1.0])
    assert len({prompt_for(s) for s in scenes}) == 200
    assert {s.level for s in scenes} == {4}
    with pytest.raises(ValueError, match="level_weights"):
        sample_unique_scenes(0, 5, [1.0, 0.0])
    with pytest.raises(ValueError, match="distinct prompts"):
        sample_unique_scenes(0, 500, [1.0, 0.0, 0.0, 0.0])  # level 1 has only 54 prompts


def test_harder_levels_write_longer_prompts():
    lengths = {level: np.mean([len(prompt_for(s).split())
                               for s in sample_unique_scenes(level, 50, np.eye(4)[level - 1])])
               for level in (1, 2, 4)}
    assert lengths[1] < lengths[2] < lengths[4]


def test_grammar_writes_what_the_scene_holds():
    scene = Scene((Group(2, "red", "circle", "small"), Group(1, "blue", "square", "small")),
                  "above", "black", "striped", 4)
    assert prompt_for(scene) == ("two small red circles above a small blue square "
                                 "against a black striped background")
    pairs = quality_pairs(scene)
    assert {d for d, _, _ in pairs} == set(DIMENSIONS)
    assert ("count", "two red circles", "a red circle") in pairs
    assert ("position", "two red circles above a blue square",
            "two red circles below a blue square") in pairs


def test_renderer_puts_the_right_colour_where_the_prompt_says():
    scene = Scene((Group(1, "red", "square", "large"),), "left", "white", "plain", 2)
    image = render(scene, size=24)
    assert image.shape == (24, 24, 3) and image.dtype == np.float32
    x, y, *_ = placements(scene)[0]
    centre = image[int(y * 24), int(x * 24)]
    assert np.allclose(centre, np.array(COLOURS["red"]) / 255, atol=1e-6)
    assert np.allclose(image[12, 22], 240 / 255, atol=1e-6)  # the right side stays background
    moved = render(perturb(scene, "position"), size=24)
    assert not np.allclose(moved[int(y * 24), int(x * 24)], centre)


def test_counts_draw_that_many_objects():
    for count in (1, 2, 3):
        scene = Scene((Group(count, "green", "circle", "small"),), "center", "black", "plain", 3)
        assert len(placements(scene)) == count


def test_perturb_changes_exactly_one_dimension():
    scene = Scene((Group(1, "red", "circle", "large"),), "center", "gray", "plain", 1)
    assert perturb(scene, "colour").groups[0].colour != "red"
    assert perturb(scene, "background").background != "gray"
    assert perturb(scene, "shape").groups[0].shape != "circle"
    assert perturb(scene, "count").groups[0].count == 2
    with pytest.raises(ValueError, match="cannot perturb"):
        perturb(scene, "sharpness")


def test_blur_keeps_the_mean_colour_and_loses_detail():
    image = render(sample_unique_scenes(1, 1, [0, 1, 0, 0])[0])
    blurred = blur(image)
    assert np.allclose(blurred.mean(), image.mean(), atol=1e-5)
    assert np.abs(np.diff(blurred, axis=0)).sum() < np.abs(np.diff(image, axis=0)).sum()


def test_scene_json_round_trip():
    scene = sample_unique_scenes(9, 1, [0, 0, 0, 1])[0]
    assert Scene.from_json(scene.to_json()) == scene
