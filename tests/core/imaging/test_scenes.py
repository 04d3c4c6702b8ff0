import numpy as np
import pytest

from dcpipelines.core.imaging.scenes import (
    BACKGROUNDS,
    COLOURS,
    DIMENSIONS,
    IMAGE_DIMENSIONS,
    SCENE_DIMENSIONS,
    Group,
    Scene,
    blur,
    degrade,
    object_count,
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
    assert ("size", "two small red circles", "two large red circles") in pairs
    assert ("size", "a small blue square", "a large blue square") in pairs
    assert ("texture", "a black striped background", "a black background") in pairs


def test_ten_dimensions_scene_ones_then_image_ones():
    assert len(DIMENSIONS) == 10 and len(set(DIMENSIONS)) == 10
    assert DIMENSIONS == SCENE_DIMENSIONS + IMAGE_DIMENSIONS
    assert set(IMAGE_DIMENSIONS) == {"sharpness", "vividness", "integrity"}


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_quality_pairs_cover_every_dimension_at_every_level(level):
    for scene in sample_unique_scenes(level, 30, np.eye(4)[level - 1]):
        pairs = quality_pairs(scene)
        assert {d for d, _, _ in pairs} == set(DIMENSIONS)
        assert all(positive != negative for _, positive, negative in pairs)
        per_group = {d: sum(name == d for name, _, _ in pairs) for d in DIMENSIONS}
        for d in ("colour", "shape", "count", "size"):
            assert per_group[d] == len(scene.groups)
        assert all(per_group[d] == 1 for d in ("position", "background", "texture", *IMAGE_DIMENSIONS))


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
    assert perturb(scene, "count").groups[0] == Group(2, "red", "circle", "large")
    assert perturb(scene, "size").groups[0] == Group(1, "red", "circle", "small")
    assert perturb(scene, "texture") == Scene(scene.groups, "center", "gray", "striped", 1)
    for dimension in SCENE_DIMENSIONS:
        assert perturb(scene, dimension) != scene
        assert not np.allclose(render(perturb(scene, dimension)), render(scene))
    for dimension in IMAGE_DIMENSIONS:
        with pytest.raises(ValueError, match="cannot perturb"):
            perturb(scene, dimension)


@pytest.mark.parametrize("dimension", ["size", "texture"])
def test_perturbing_size_or_texture_makes_the_flipped_probe_false(dimension):
    from dcpipelines.core.imaging.scorer import flipped_pair

    scene = Scene((Group(1, "blue", "square", "small"), Group(2, "red", "circle", "small")),
                  "left_of", "white", "plain", 4)
    changed = perturb(scene, dimension)
    assert not np.allclose(render(changed), render(scene))
    pairs = quality_pairs(scene)
    name, positive, negative = pairs[flipped_pair(scene, dimension)]
    # the perturbed scene's own probe (same place) says what the old negative said
    assert name == dimension
    assert quality_pairs(changed)[flipped_pair(scene, dimension)][1] == negative
    # the old positive text is true of no probe of the perturbed scene any more
    assert positive not in {p for d, p, _ in quality_pairs(changed) if d == dimension}
    # the second group's probes are untouched
    assert [p for p in pairs if "red" in p[1] and p[0] != "position"] == \
        [p for p in quality_pairs(changed) if "red" in p[1] and p[0] != "position"]


def test_larger_objects_cover_more_pixels_and_stripes_add_rows():
    scene = Scene((Group(1, "red", "circle", "small"),), "center", "white", "plain", 2)
    background = np.asarray(BACKGROUNDS["white"]) / 255

    def object_pixels(image):
        return int((np.abs(image - background).max(-1) > 0.1).sum())

    assert object_pixels(render(perturb(scene, "size"))) > 2 * object_pixels(render(scene))
    assert np.allclose(render(scene)[:, 1], 240 / 255)  # the left edge is plain background
    edge = render(perturb(scene, "texture"))[:, 1, 0]
    assert sorted(np.unique(edge.round(4))) == [round(240 / 255 - 0.2, 4), round(240 / 255, 4)]
    assert np.array_equal(edge[::4], edge[0] * np.ones(6)) and edge[0] != edge[2]  # 2-pixel bands


def _saturation(pixels):  # HSV saturation
    high, low = pixels.max(-1), pixels.min(-1)
    return (high - low) / np.maximum(high, 1e-6)


@pytest.mark.parametrize("background", ["black", "white", "gray"])
def test_vividness_degradation_fades_the_colours(background):
    scene = Scene((Group(2, "red", "square", "small"), Group(1, "yellow", "circle", "small")),
                  "above", background, "striped", 4)
    image = render(scene)
    faded = degrade(image, "vividness", np.random.default_rng(0))
    objects = np.abs(image - render(scene, with_objects=False)).max(-1) > 0.3
    assert objects.sum() > 20
    before, after = _saturation(image[objects]), _saturation(faded[objects])
    assert (after < before - 0.1).all()  # every object pixel loses saturation
    chroma = lambda x: x.max(-1) - x.min(-1)  # noqa: E731
    assert np.allclose(chroma(faded), 0.4 * chroma(image), atol=1e-5)
    assert np.allclose(faded.mean(), image.mean(), atol=1e-5)
    assert faded.min() >= 0 and faded.max() <= 1
    assert np.array_equal(faded, degrade(image, "vividness", np.random.default_rng(5)))


def test_integrity_degradation_punches_background_into_the_objects():
    scene = Scene((Group(1, "green", "square", "large"),), "center", "white", "striped", 2)
    image = render(scene)
    backdrop = render(scene, with_objects=False)
    on_object = np.abs(image - backdrop).max(-1) > 0.05
    broken = degrade(image, "integrity", np.random.default_rng(3), scene)
    changed = np.abs(broken - image).max(-1) > 1e-6
    assert changed.sum() >= 4
    assert (changed & on_object).sum() >= 4  # the holes fall on the object ...
    assert np.allclose(broken[changed], backdrop[changed])  # ... and show the striped background
    assert np.array_equal(broken[~changed], image[~changed])
    again = degrade(image, "integrity", np.random.default_rng(3), scene)
    assert np.array_equal(broken, again)
    others = [degrade(image, "integrity", np.random.default_rng(s), scene) for s in range(4, 10)]
    assert any(not np.array_equal(broken, other) for other in others)
    with pytest.raises(ValueError, match="needs the scene"):
        degrade(image, "integrity", np.random.default_rng(3))


def test_every_image_dimension_degrades_and_scene_ones_do_not():
    scene = sample_unique_scenes(5, 1, [0, 0, 0, 1])[0]
    image = render(scene)
    for dimension in IMAGE_DIMENSIONS:
        assert not np.allclose(degrade(image, dimension, np.random.default_rng(0), scene), image)
    with pytest.raises(ValueError, match="cannot degrade"):
        degrade(image, "colour", np.random.default_rng(0), scene)


def test_blur_keeps_the_mean_colour_and_loses_detail():
    image = render(sample_unique_scenes(1, 1, [0, 1, 0, 0])[0])
    blurred = blur(image)
    assert np.allclose(blurred.mean(), image.mean(), atol=1e-5)
    assert np.abs(np.diff(blurred, axis=0)).sum() < np.abs(np.diff(image, axis=0)).sum()


def test_scene_json_round_trip():
    scene = sample_unique_scenes(9, 1, [0, 0, 0, 1])[0]
    assert Scene.from_json(scene.to_json()) == scene


def test_perturbing_the_second_group_changes_only_its_probe():
    from dcpipelines.core.imaging.scorer import flipped_pair

    scene = Scene((Group(1, "blue", "square", "small"), Group(2, "red", "circle", "small")),
                  "left_of", "white", "plain", 4)
    for dimension in ("colour", "shape", "count", "size"):
        changed = perturb(scene, dimension, group=1)
        assert changed.groups[0] == scene.groups[0] and changed.groups[1] != scene.groups[1]
        j = flipped_pair(scene, dimension, group=1)
        assert j != flipped_pair(scene, dimension, group=0)
        name, positive, negative = quality_pairs(scene)[j]
        assert name == dimension and "red circle" in positive
        assert quality_pairs(changed)[j][1] == negative  # the changed scene's probe says the old negative
    with pytest.raises(ValueError, match="group 2 does not exist"):
        perturb(scene, "colour", group=2)
    assert object_count(scene) == 3
