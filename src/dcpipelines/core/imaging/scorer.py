"""A CLIP-style quality scorer trained here: a small image encoder aligned with the frozen
MiniLM sentence space, and quality measured with positive/negative text pairs.

The quality of an image on one probe is the softmax probability of the positive text against
the negative one, ``sigmoid(scale * (cos(img, pos) - cos(img, neg)))``, as in RouteT2I; the
quality of a dimension is the mean over its probes. The renderer's ground truth is used to
train the scorer (true captions, true/false statements about rendered, perturbed and degraded
images) and to validate it; routing figures are measured by the scorer alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from typing_extensions import override

from dcpipelines.core.imaging.scenes import (
    DIMENSIONS,
    GROUP_DIMENSIONS,
    IMAGE_DIMENSIONS,
    SCENE_DIMENSIONS,
    Scene,
    degrade,
    object_count,
    perturb,
    prompt_for,
    quality_pairs,
    render,
)
from dcpipelines.core.nn.fit import fit_minibatches
from dcpipelines.core.nn.packing import pack_model, unpack_model

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class ScorerSpec:
    """Size and training settings of the CLIP-style scene scorer, and how often it sees perturbed and degraded renders."""
    image_size: int = 24
    text_dim: int = 384
    width: int = 32
    epochs: int = 15
    batch_size: int = 64
    lr: float = 2e-3
    perturb_fraction: float = 0.5
    degrade_fraction: float = 0.3  # probability of each image degradation, drawn independently


class ImageEncoder(nn.Module):
    """Three convolutions and two linear layers into the text space; unit-length output."""

    def __init__(self, spec: ScorerSpec) -> None:
        super().__init__()
        w = spec.width
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.GELU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1), nn.GELU(),
            nn.Flatten(),
        )
        cells = (spec.image_size // 4) ** 2
        self.head = nn.Sequential(nn.Linear(2 * w * cells, 256), nn.GELU(), nn.Linear(256, spec.text_dim))
        self.log_scale = nn.Parameter(torch.tensor(float(np.log(10.0))))

    @override
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        z = self.head(self.features(images.permute(0, 3, 1, 2)))
        return nn.functional.normalize(z, dim=-1)

    @property
    def scale(self) -> torch.Tensor:
        """The learned logit scale, capped at 100."""
        return self.log_scale.clamp(max=float(np.log(100.0))).exp()


@dataclass
class ProbeSet:
    """Padded text-pair probes for N images: indices into a text table, dimension ids, mask,
    and the label sign (+1: the positive text is the true one)."""

    pos: np.ndarray
    neg: np.ndarray
    dim: np.ndarray
    mask: np.ndarray
    sign: np.ndarray


def build_probes(pair_lists: list[list[tuple[str, str, str]]], index: dict[str, int],
                 flips: list[set[int]] | None = None) -> ProbeSet:
    """Probe arrays for each image's pairs (``flips[i]``: pair positions whose truth is reversed)."""
    width = max(len(p) for p in pair_lists)
    n = len(pair_lists)
    pos, neg, dim = (np.zeros((n, width), np.int64) for _ in range(3))
    mask = np.zeros((n, width), bool)
    sign = np.ones((n, width), np.float32)
    for i, pairs in enumerate(pair_lists):
        for j, (dimension, positive, negative) in enumerate(pairs):
            pos[i, j], neg[i, j] = index[positive], index[negative]
            dim[i, j], mask[i, j] = DIMENSIONS.index(dimension), True
            if flips and j in flips[i]:
                sign[i, j] = -1.0
    return ProbeSet(pos, neg, dim, mask, sign)


# physical order of the image degradations: holes and fading before the blur smears them
DEGRADE_ORDER = ("integrity", "vividness", "sharpness")


def flipped_pair(scene: Scene, dimension: str, group: int = 0) -> int:
    """Position in :func:`quality_pairs` of the probe that :func:`perturb` (a scene dimension, of
    group ``group`` for a per-group one) or :func:`degrade` (an image dimension) makes false: the
    dimension's probe of that group (per-group dimensions) or its only probe."""
    seen = 0
    for j, (name, _, _) in enumerate(quality_pairs(scene)):
        if name == dimension:
            if dimension not in GROUP_DIMENSIONS or seen == group:
                return j
            seen += 1
    raise ValueError(f"no probe for dimension {dimension!r} (group {group}); choose from {DIMENSIONS}")


def perturb_any_group(scene: Scene, dimension: str, rng: np.random.Generator) -> tuple[Scene, int]:
    """``scene`` perturbed on ``dimension`` (:func:`perturb`), in a group drawn from ``rng`` when
    the dimension is probed per group, and the position of the probe that this makes false."""
    group = int(rng.integers(len(scene.groups))) if dimension in GROUP_DIMENSIONS else 0
    return perturb(scene, dimension, group), flipped_pair(scene, dimension, group)


def degrade_all(image: np.ndarray, dimensions: set[str], rng: np.random.Generator,
                scene: Scene) -> np.ndarray:
    """``image`` (the render of ``scene``) with each of ``dimensions`` degraded, in physical order."""
    for dimension in DEGRADE_ORDER:
        if dimension in dimensions:
            image = degrade(image, dimension, rng, scene)
    return image


def scorer_training_set(scenes: list[Scene], seed: int, spec: ScorerSpec):
    """Images with their captions and probes: a share perturbed on one scene dimension (that
    probe's label reversed), and each image degradation applied independently to a share (that
    dimension's probe reversed)."""
    rng = np.random.default_rng(seed)
    images, captions, pairs, flips = [], [], [], []
    for scene in scenes:
        shown, flip = scene, set()
        if rng.random() < spec.perturb_fraction:
            dimension = SCENE_DIMENSIONS[int(rng.integers(len(SCENE_DIMENSIONS)))]
            shown, flipped = perturb_any_group(scene, dimension, rng)
            flip = {flipped}
        scene_pairs = quality_pairs(scene)
        degraded = {d for d in IMAGE_DIMENSIONS if rng.random() < spec.degrade_fraction}
        image = degrade_all(render(shown, spec.image_size), degraded, rng, shown)
        flip |= {flipped_pair(scene, d) for d in degraded}
        images.append(image)
        captions.append(prompt_for(shown))
        pairs.append(scene_pairs)
        flips.append(flip)
    return np.stack(images), captions, pairs, flips


def text_table(texts: list[str], embed: Embed) -> tuple[dict[str, int], np.ndarray]:
    """Unique texts -> row index, and their unit-length embeddings."""
    unique = sorted(set(texts))
    return {t: i for i, t in enumerate(unique)}, np.asarray(embed(unique), np.float32)


def _probe_texts(pair_lists: list[list[tuple[str, str, str]]]) -> list[str]:
    return [t for pairs in pair_lists for _, pos, neg in pairs for t in (pos, neg)]


def probe_weights(probes: ProbeSet) -> np.ndarray:
    """Loss weight of every probe: 1 / (probes of its dimension in its image), 0 where padded,
    so that each dimension of an image counts once, as in :func:`dimension_quality`."""
    same = (probes.dim[:, :, None] == probes.dim[:, None, :]) & probes.mask[:, None, :]
    return (probes.mask / np.maximum(same.sum(-1), 1)).astype(np.float32)


def train_scorer(scenes: list[Scene], embed: Embed, spec: ScorerSpec,
                 seed: int) -> tuple[ImageEncoder, list[float]]:
    """Contrastive training: image-caption InfoNCE plus a logistic loss on every probe (each
    dimension of an image weighted equally, whatever its number of probes)."""
    images, captions, pairs, flips = scorer_training_set(scenes, seed, spec)
    index, table = text_table(captions + _probe_texts(pairs), embed)
    probes = build_probes(pairs, index, flips)
    caption_idx = torch.as_tensor([index[c] for c in captions])
    torch.manual_seed(seed)
    model = ImageEncoder(spec)
    x, text = torch.as_tensor(images), torch.as_tensor(table)
    pos, neg = torch.as_tensor(probes.pos), torch.as_tensor(probes.neg)
    sign = torch.as_tensor(probes.sign)
    weight = torch.as_tensor(probe_weights(probes))

    def batch_loss(batch: torch.Tensor) -> torch.Tensor:
        z = model(x[batch])
        scale = model.scale
        captions_b = text[caption_idx[batch]]
        contrastive = nn.functional.cross_entropy(scale * z @ captions_b.T, torch.arange(len(batch)))
        margin = ((text[pos[batch]] - text[neg[batch]]) * z[:, None, :]).sum(-1)
        probe = nn.functional.softplus(-sign[batch] * scale * margin)
        return contrastive + (probe * weight[batch]).sum() / weight[batch].sum()

    history = fit_minibatches(model, len(x), batch_loss, epochs=spec.epochs,
                              batch_size=spec.batch_size, lr=spec.lr, seed=seed)
    return model.eval(), history


@torch.no_grad()
def probe_margins(model: ImageEncoder, images: np.ndarray, probes: ProbeSet,
                  table: np.ndarray) -> np.ndarray:
    """``scale * (cos(img, pos) - cos(img, neg))`` for every probe (N, P); 0 where padded."""
    text = torch.as_tensor(table)
    out = []
    for i in range(0, len(images), 256):
        z = model(torch.as_tensor(images[i:i + 256]))
        diff = text[torch.as_tensor(probes.pos[i:i + 256])] - text[torch.as_tensor(probes.neg[i:i + 256])]
        out.append(model.scale * (diff * z[:, None, :]).sum(-1))
    return torch.cat(out).numpy() * probes.mask


def dimension_quality(model: ImageEncoder, images: np.ndarray, probes: ProbeSet,
                      table: np.ndarray) -> np.ndarray:
    """Measured quality (N, len(DIMENSIONS)) in (0, 1): mean probe probability per dimension."""
    prob = 1.0 / (1.0 + np.exp(-probe_margins(model, images, probes, table)))
    quality = np.zeros((len(images), len(DIMENSIONS)), np.float64)
    for d in range(len(DIMENSIONS)):
        in_dim = probes.mask & (probes.dim == d)
        quality[:, d] = (prob * in_dim).sum(1) / np.maximum(in_dim.sum(1), 1)
    return quality


def measure_images(model: ImageEncoder, images: np.ndarray, scenes: list[Scene],
                   embed: Embed) -> np.ndarray:
    """Quality of images made for ``scenes`` (their prompts' probes), per dimension."""
    pairs = [quality_pairs(s) for s in scenes]
    index, table = text_table(_probe_texts(pairs), embed)
    return dimension_quality(model, images, build_probes(pairs, index), table)


def validate_scorer(model: ImageEncoder, scenes: list[Scene], embed: Embed,
                    image_size: int = 24, seed: int = 0) -> pd.DataFrame:
    """Agreement with the renderer's ground truth on held-out scenes, one row per judgement
    (``kind``, ``dimension``, ``objects``: the scene's object count, ``correct``): every probe on the true render (positive should
    win), for each scene dimension its flipped probe on the perturbed render, and for each image
    dimension its probe on the degraded render (negative should win). ``seed`` drives the
    random patches of the integrity degradation."""
    rng = np.random.default_rng(seed)
    images, pair_lists, flips, kinds, objects = [], [], [], [], []

    def judge(image: np.ndarray, pairs: list[tuple[str, str, str]], flip: set[int], kind: str):
        images.append(image)
        pair_lists.append(pairs)
        flips.append(flip)
        kinds.append(kind)
        objects.append(object_count(scene))

    for scene in scenes:
        pairs = quality_pairs(scene)
        clean = render(scene, image_size)
        judge(clean, pairs, set(), "true")
        for dimension in SCENE_DIMENSIONS:
            shown, flipped = perturb_any_group(scene, dimension, rng)
            judge(render(shown, image_size), [pairs[flipped]], {0}, "perturbed")
        for dimension in IMAGE_DIMENSIONS:
            judge(degrade(clean, dimension, rng, scene), [pairs[flipped_pair(scene, dimension)]],
                  {0}, "degraded")
    index, table = text_table(_probe_texts(pair_lists), embed)
    probes = build_probes(pair_lists, index, flips)
    margins = probe_margins(model, np.stack(images), probes, table)
    rows = []
    for i, kind in enumerate(kinds):
        for j in np.flatnonzero(probes.mask[i]):
            rows.append({"kind": kind, "dimension": DIMENSIONS[probes.dim[i, j]], "objects": objects[i],
                         "correct": bool(np.sign(margins[i, j]) == probes.sign[i, j])})
    return pd.DataFrame(rows)


def pack_scorer(model: ImageEncoder, spec: ScorerSpec, history: list[float]) -> dict[str, Any]:
    """The trained scorer as a plain dict (see :mod:`dcpipelines.core.nn.packing`)."""
    return pack_model(model, spec, history)


def unpack_scorer(packed: dict[str, Any]) -> ImageEncoder:
    """The scorer stored by :func:`pack_scorer`, in eval mode."""
    return unpack_model(packed, lambda spec: ImageEncoder(ScorerSpec(**spec)))
