"""A procedural scene world: structured scene descriptions, the prompts a grammar writes for
them, the positive/negative text pairs that probe each quality dimension, and a renderer.

Difficulty grows with the level of a scene: level 1 is one large object in the centre, level 2
adds size, position and background texture, level 3 adds counts or a spatial relation between
two objects, level 4 combines counts and relations. Everything is a pure function of the scene
(rendering) or of an explicit numpy Generator (sampling, degradations), so the same seed gives the
same world.

Quality has ten dimensions, all checkable here. Scene dimensions are changed by editing the scene
(:func:`perturb`); image dimensions by degrading the rendered image (:func:`degrade`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

import numpy as np

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 70, 220),
    "yellow": (235, 215, 40), "purple": (150, 50, 180), "orange": (245, 140, 30),
}
SHAPES = ("circle", "square", "triangle")
SIZES = {"small": 0.11, "large": 0.2}  # radius as a fraction of the image side
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (240, 240, 240), "black": (20, 20, 20), "gray": (125, 125, 125),
}
TEXTURES = ("plain", "striped")
POSITIONS = {  # anchor (x, y) in [0, 1] image coordinates, y downwards
    "left": (0.27, 0.5), "right": (0.73, 0.5), "top": (0.5, 0.27),
    "bottom": (0.5, 0.73), "center": (0.5, 0.5),
}
RELATIONS = {  # where the first and the second group go
    "left_of": ("left", "right"), "right_of": ("right", "left"),
    "above": ("top", "bottom"), "below": ("bottom", "top"),
}
SCENE_DIMENSIONS = ("colour", "shape", "count", "size", "position", "background", "texture")
IMAGE_DIMENSIONS = ("sharpness", "vividness", "integrity")
DIMENSIONS = SCENE_DIMENSIONS + IMAGE_DIMENSIONS

COUNT_WORDS = {1: "a", 2: "two", 3: "three"}
POSITION_PHRASES = {
    "left": "on the left", "right": "on the right", "top": "at the top",
    "bottom": "at the bottom", "center": "in the center",
}
OPPOSITE_POSITION = {"left": "right", "right": "left", "top": "bottom", "bottom": "top",
                     "center": "left"}
RELATION_PHRASES = {"left_of": "to the left of", "right_of": "to the right of",
                    "above": "above", "below": "below"}
OPPOSITE_RELATION = {"left_of": "right_of", "right_of": "left_of", "above": "below",
                     "below": "above"}
OTHER_COLOUR = dict(zip(COLOURS, list(COLOURS)[1:] + list(COLOURS)[:1], strict=True))
OTHER_SHAPE = dict(zip(SHAPES, SHAPES[1:] + SHAPES[:1], strict=True))
OTHER_COUNT = {1: 2, 2: 1, 3: 2}
OTHER_BACKGROUND = {"white": "black", "black": "white", "gray": "white"}
OTHER_SIZE = {"small": "large", "large": "small"}
OTHER_TEXTURE = {"plain": "striped", "striped": "plain"}
IMAGE_PROBES = {  # dimension -> (text true of an intact render, text true of a degraded one)
    "sharpness": ("a sharp clear image", "a blurry image"),
    "vividness": ("an image with vivid colours", "an image with faded colours"),
    "integrity": ("an image of whole, intact shapes", "an image of broken shapes with holes"),
}
FADE = 0.6  # share of the grey mean blended into a faded image


@dataclass(frozen=True)
class Group:
    """``count`` identical objects."""

    count: int
    colour: str
    shape: str
    size: str


@dataclass(frozen=True)
class Scene:
    """What an image shows. ``layout`` is a position (one group) or a relation (two groups)."""

    groups: tuple[Group, ...]
    layout: str
    background: str
    texture: str
    level: int

    def to_json(self) -> str:
        """The scene as a JSON string."""
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_json(text: str) -> Scene:
        """The scene back from :meth:`to_json`."""
        raw = json.loads(text)
        groups = tuple(Group(**g) for g in raw.pop("groups"))
        return Scene(groups=groups, **raw)


def object_count(scene: Scene) -> int:
    """How many objects ``scene`` shows (all groups together)."""
    return sum(g.count for g in scene.groups)


# ---------------------------------------------------------------- sampling
def _group(rng: np.random.Generator, count: int, size: str | None = None,
           avoid_colour: str | None = None) -> Group:
    colours = [c for c in COLOURS if c != avoid_colour]
    return Group(
        count=count,
        colour=colours[int(rng.integers(len(colours)))],
        shape=SHAPES[int(rng.integers(len(SHAPES)))],
        size=size or ("small" if count > 1 else list(SIZES)[int(rng.integers(len(SIZES)))]),
    )


def sample_scene(rng: np.random.Generator, level: int) -> Scene:
    """One scene of difficulty ``level`` (1 to 4)."""
    background = list(BACKGROUNDS)[int(rng.integers(len(BACKGROUNDS)))]
    if level == 1:
        return Scene((_group(rng, 1, "large"),), "center", background, "plain", 1)
    texture = TEXTURES[int(rng.integers(len(TEXTURES)))]
    if level == 2:
        position = list(POSITIONS)[int(rng.integers(len(POSITIONS)))]
        return Scene((_group(rng, 1),), position, background, texture, 2)
    relation = list(RELATIONS)[int(rng.integers(len(RELATIONS)))]
    if level == 3:
        if rng.random() < 0.5:
            position = list(POSITIONS)[int(rng.integers(len(POSITIONS)))]
            return Scene((_group(rng, int(rng.integers(2, 4))),), position, background, texture, 3)
        first = _group(rng, 1, "small")
        return Scene((first, _group(rng, 1, "small", first.colour)), relation, background,
                     texture, 3)
    if level == 4:
        first = _group(rng, int(rng.integers(1, 4)), "small")
        second = _group(rng, int(rng.integers(2, 4)), "small", first.colour)
        return Scene((first, second), relation, background, texture, 4)
    raise ValueError(f"scene level must be 1, 2, 3 or 4, got {level}")


def sample_unique_scenes(seed: int, n: int, level_weights: list[float]) -> list[Scene]:
    """``n`` scenes with pairwise different prompts; levels drawn with ``level_weights``."""
    rng = np.random.default_rng(seed)
    weights = np.asarray(level_weights, dtype=float)
    if weights.shape != (4,) or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"level_weights needs 4 non-negative numbers, got {level_weights}")
    scenes: dict[str, Scene] = {}
    for _ in range(50 * n):
        if len(scenes) == n:
            break
        scene = sample_scene(rng, int(rng.choice(4, p=weights / weights.sum())) + 1)
        scenes.setdefault(prompt_for(scene), scene)
    if len(scenes) < n:
        raise ValueError(f"the grammar gave only {len(scenes)} distinct prompts, {n} asked")
    unique = list(scenes.values())
    return [unique[i] for i in rng.permutation(n)]  # easy scenes run out first: mix them back


# ---------------------------------------------------------------- grammar
def _objects(group: Group, with_size: bool = True, colour: str | None = None,
             shape: str | None = None, count: int | None = None, size: str | None = None) -> str:
    count = group.count if count is None else count
    words = [COUNT_WORDS[count]]
    if with_size:
        words.append(size or group.size)
    words += [colour or group.colour, (shape or group.shape) + ("s" if count > 1 else "")]
    return " ".join(words)


def _background(background: str, texture: str) -> str:
    return f"a {background} striped background" if texture == "striped" else \
        f"a {background} background"


def prompt_for(scene: Scene) -> str:
    """The prompt a user would type for ``scene`` (unstated details follow fixed conventions)."""
    with_size = scene.level > 1
    first = _objects(scene.groups[0], with_size)
    if len(scene.groups) == 2:
        subject = f"{first} {RELATION_PHRASES[scene.layout]} {_objects(scene.groups[1], with_size)}"
    elif scene.level == 1:
        subject = first
    else:
        subject = f"{first} {POSITION_PHRASES[scene.layout]}"
    return f"{subject} against {_background(scene.background, scene.texture)}"


def quality_pairs(scene: Scene) -> list[tuple[str, str, str]]:
    """``(dimension, positive text, negative text)`` probes of an image made for ``scene``.

    A dimension may have several probes (one per object group, first group first); its quality
    is their mean. Every dimension of :data:`DIMENSIONS` has at least one probe.
    """
    pairs = []
    for g in scene.groups:
        pairs.append(("colour", _objects(g, False), _objects(g, False, colour=OTHER_COLOUR[g.colour])))
        pairs.append(("shape", _objects(g, False), _objects(g, False, shape=OTHER_SHAPE[g.shape])))
        pairs.append(("count", _objects(g, False), _objects(g, False, count=OTHER_COUNT[g.count])))
        pairs.append(("size", _objects(g), _objects(g, size=OTHER_SIZE[g.size])))
    if len(scene.groups) == 2:
        a, b = (_objects(g, False) for g in scene.groups)
        pairs.append(("position", f"{a} {RELATION_PHRASES[scene.layout]} {b}",
                      f"{a} {RELATION_PHRASES[OPPOSITE_RELATION[scene.layout]]} {b}"))
    else:
        a = _objects(scene.groups[0], False)
        pairs.append(("position", f"{a} {POSITION_PHRASES[scene.layout]}",
                      f"{a} {POSITION_PHRASES[OPPOSITE_POSITION[scene.layout]]}"))
    pairs.append(("background", _background(scene.background, scene.texture),
                  _background(OTHER_BACKGROUND[scene.background], scene.texture)))
    pairs.append(("texture", _background(scene.background, scene.texture),
                  _background(scene.background, OTHER_TEXTURE[scene.texture])))
    for dimension in IMAGE_DIMENSIONS:
        pairs.append((dimension, *IMAGE_PROBES[dimension]))
    return pairs


GROUP_DIMENSIONS = ("colour", "shape", "count", "size")  # probed once per object group


def perturb(scene: Scene, dimension: str, group: int = 0) -> Scene:
    """The scene with one scene dimension changed the way the negative text of that dimension
    says (for a per-group dimension, of group ``group`` only; nothing else changed); used to
    train and validate the scorer against known ground truth."""
    if dimension in GROUP_DIMENSIONS:
        return _perturb_group(scene, dimension, group)
    if dimension == "position":
        if len(scene.groups) == 2:
            return replace(scene, layout=OPPOSITE_RELATION[scene.layout])
        return replace(scene, layout=OPPOSITE_POSITION[scene.layout])
    if dimension == "background":
        return replace(scene, background=OTHER_BACKGROUND[scene.background])
    if dimension == "texture":
        return replace(scene, texture=OTHER_TEXTURE[scene.texture])
    raise ValueError(f"cannot perturb dimension {dimension!r}; choose from {SCENE_DIMENSIONS}")


def _perturb_group(scene: Scene, dimension: str, group: int) -> Scene:
    if not 0 <= group < len(scene.groups):
        raise ValueError(f"group {group} does not exist in a scene of {len(scene.groups)} group(s)")
    g = scene.groups[group]
    if dimension == "colour":
        changed = replace(g, colour=OTHER_COLOUR[g.colour])
    elif dimension == "shape":
        changed = replace(g, shape=OTHER_SHAPE[g.shape])
    elif dimension == "count":  # 1 -> 2 keeps a large size: two large objects still fit a row
        changed = replace(g, count=OTHER_COUNT[g.count])
    else:
        changed = replace(g, size=OTHER_SIZE[g.size])
    groups = list(scene.groups)
    groups[group] = changed
    return replace(scene, groups=tuple(groups))


# ---------------------------------------------------------------- renderer
def _row(anchor: tuple[float, float], count: int, radius: float, vertical: bool):
    step = 2.6 * radius
    offsets = (np.arange(count) - (count - 1) / 2) * step
    x, y = anchor
    return [(x, y + o) if vertical else (x + o, y) for o in offsets]


def placements(scene: Scene) -> list[tuple[float, float, float, str, str]]:
    """``(x, y, radius, shape, colour)`` of every object, in drawing order."""
    anchors = RELATIONS[scene.layout] if len(scene.groups) == 2 else (scene.layout,)
    out = []
    for group, where in zip(scene.groups, anchors, strict=True):
        radius = SIZES[group.size]
        vertical = where in ("left", "right")
        for x, y in _row(POSITIONS[where], group.count, radius, vertical):
            out.append((x, y, radius, group.shape, group.colour))
    return out


def _shape_mask(shape: str, xx: np.ndarray, yy: np.ndarray, x: float, y: float, r: float):
    dx, dy = xx - x, yy - y
    if shape == "circle":
        return dx * dx + dy * dy <= r * r
    if shape == "square":
        return (np.abs(dx) <= 0.85 * r) & (np.abs(dy) <= 0.85 * r)
    if shape == "triangle":  # apex up, base at y + 0.8 r
        return (dy >= -r) & (dy <= 0.8 * r) & (np.abs(dx) <= 0.62 * (dy + r))
    raise ValueError(f"unknown shape {shape!r}; choose from {SHAPES}")


def render(scene: Scene, size: int = 24, supersample: int = 4,
           with_objects: bool = True) -> np.ndarray:
    """The image of ``scene``: float32 array (size, size, 3) in [0, 1], anti-aliased
    (``with_objects=False``: the background alone)."""
    side = size * supersample
    yy, xx = (np.mgrid[0:side, 0:side].astype(np.float32) + 0.5) / side
    image = np.empty((side, side, 3), dtype=np.float32)
    image[:] = np.asarray(BACKGROUNDS[scene.background], np.float32) / 255
    if scene.texture == "striped":
        stripe = (np.floor(yy * size / 2) % 2 == 0)
        shade = 0.2 if scene.background == "black" else -0.2
        image[stripe] = np.clip(image[stripe] + shade, 0, 1)
    for x, y, radius, shape, colour in placements(scene) if with_objects else []:
        image[_shape_mask(shape, xx, yy, x, y, radius)] = np.asarray(COLOURS[colour], np.float32) / 255
    return image.reshape(size, supersample, size, supersample, 3).mean(axis=(1, 3))


def blur(image: np.ndarray, factor: int = 3) -> np.ndarray:
    """A blurred copy: box-downsampled by ``factor`` then nearest-upsampled (a lossy generator's
    typical failure). ``image`` is (H, W, 3) with H and W divisible by ``factor``."""
    h, w, c = image.shape
    small = image.reshape(h // factor, factor, w // factor, factor, c).mean(axis=(1, 3))
    return np.repeat(np.repeat(small, factor, axis=0), factor, axis=1).astype(np.float32)


def fade(image: np.ndarray, amount: float = FADE) -> np.ndarray:
    """Faded colours: every pixel blended by ``amount`` toward the image's mean grey level, so
    chroma (max - min channel) shrinks by ``1 - amount`` everywhere and the mean stays."""
    return ((1 - amount) * image + amount * image.mean()).astype(np.float32)


def erase_patches(image: np.ndarray, scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """Broken shapes: one or two square holes, each centred inside a randomly chosen object of
    ``scene`` and about one object radius wide, filled with the scene's background (stripes
    included). ``image`` must be the render of ``scene`` at its own size."""
    size = image.shape[0]
    backdrop = render(scene, size, with_objects=False)
    objects = placements(scene)
    out = image.copy()
    for _ in range(int(rng.integers(1, 3))):
        x, y, radius, _, _ = objects[int(rng.integers(len(objects)))]
        jitter = rng.uniform(-0.25, 0.25, size=2) * radius
        side = max(3, int(round(1.1 * radius * size)))
        left = int(round((x + jitter[0]) * size - side / 2))
        top = int(round((y + jitter[1]) * size - side / 2))
        rows = slice(max(top, 0), min(top + side, size))
        cols = slice(max(left, 0), min(left + side, size))
        out[rows, cols] = backdrop[rows, cols]
    return out


def degrade(image: np.ndarray, dimension: str, rng: np.random.Generator,
            scene: Scene | None = None) -> np.ndarray:
    """The image with one image dimension degraded the way the negative text of that dimension
    says: ``sharpness`` blurs, ``vividness`` fades, ``integrity`` erases patches of the objects
    (needs the ``scene`` the image shows). Random choices come from ``rng`` only."""
    if dimension == "sharpness":
        return blur(image)
    if dimension == "vividness":
        return fade(image)
    if dimension == "integrity":
        if scene is None:
            raise ValueError("degrading integrity needs the scene the image shows")
        return erase_patches(image, scene, rng)
    raise ValueError(f"cannot degrade dimension {dimension!r}; choose from {IMAGE_DIMENSIONS}")
