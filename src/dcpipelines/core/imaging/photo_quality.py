"""Quality dimensions for real text-to-image models scored by a real CLIP model.

RouteT2I measures each quality dimension of a generated image with a positive and a negative
text (its example: "high definition photo" against "low definition photo"). The paper's exact
ten texts are not published with code, so the ten pairs below are ours, written along the
factors the paper names (definition, colour, realism, object integrity) and the usual failure
modes of light diffusion models. ``alignment`` is the one prompt-dependent pair: the prompt as
a photo caption against a caption that says nothing.

Controlled degradations (blur, desaturation, noise, darkening) give a ground truth a real
scorer can be checked against: the degraded copy of an image must score lower than the image
on the dimension the degradation damages.
"""

from __future__ import annotations

import numpy as np

PHOTO_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("definition", "a high definition photo", "a low definition photo"),
    ("sharpness", "a sharp, in-focus photo", "a blurry, out-of-focus photo"),
    ("colour", "a photo with vivid, natural colours", "a photo with dull, washed-out colours"),
    ("realism", "a realistic photo", "an unrealistic, artificial-looking image"),
    ("integrity", "a photo of complete, well-formed objects", "a photo of deformed, broken objects"),
    ("noise", "a clean photo", "a noisy, grainy photo"),
    ("lighting", "a well-lit photo", "a dark, badly lit photo"),
    ("composition", "a well-composed photo", "a cluttered, badly composed photo"),
    ("aesthetics", "a beautiful photo", "an ugly photo"),
    ("alignment", "a photo of {prompt}", "a photo"),
)
PHOTO_DIMENSIONS = tuple(name for name, _, _ in PHOTO_PAIRS)

# which dimension each controlled degradation must lower
DEGRADATIONS = {"blur": "sharpness", "desaturate": "colour", "noise": "noise", "darken": "lighting"}


def photo_pairs(prompt: str) -> list[tuple[str, str, str]]:
    """``(dimension, positive, negative)`` for one prompt, in :data:`PHOTO_DIMENSIONS` order."""
    return [(name, pos.format(prompt=prompt.strip().rstrip(".")), neg.format(prompt=prompt))
            for name, pos, neg in PHOTO_PAIRS]


def measure_photos(scorer, images: np.ndarray, prompts: list[str],
                   dimensions: tuple[str, ...] = PHOTO_DIMENSIONS) -> np.ndarray:
    """Quality (N, D) of ``images`` made for ``prompts``: one text pair per dimension, scored by
    ``scorer.quality(images, positives, negatives)`` (e.g. :class:`.adapters.ClipScorer`)."""
    if len(images) != len(prompts):
        raise ValueError(f"one prompt per image is needed, got {len(images)} images and {len(prompts)} prompts")
    pairs = [dict((d, (p, n)) for d, p, n in photo_pairs(prompt)) for prompt in prompts]
    if hasattr(scorer, "embed_images"):  # encode the images once for all dimensions
        embedded = scorer.embed_images(images)
        score = lambda pos, neg: scorer.quality_of_embeddings(embedded, pos, neg)  # noqa: E731
    else:
        score = lambda pos, neg: scorer.quality(images, pos, neg)  # noqa: E731
    out = np.zeros((len(images), len(dimensions)), np.float64)
    for j, name in enumerate(dimensions):
        out[:, j] = score([p[name][0] for p in pairs], [p[name][1] for p in pairs])
    return out


def degrade(images: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """A degraded copy of (N, H, W, 3) images in [0, 1]: ``blur`` (box blur, 1/8 of the side),
    ``desaturate`` (80% towards grey), ``noise`` (Gaussian, sigma 0.25, seeded) or ``darken``
    (times 0.25)."""
    x = np.asarray(images, np.float32)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"images must be (N, H, W, 3) in [0, 1], got shape {x.shape}")
    if kind == "blur":
        k = max(2, x.shape[1] // 8)
        pad = np.pad(x, ((0, 0), (k // 2, k - 1 - k // 2), (k // 2, k - 1 - k // 2), (0, 0)), mode="edge")
        c = pad.astype(np.float64).cumsum(1).cumsum(2)
        c = np.pad(c, ((0, 0), (1, 0), (1, 0), (0, 0)))
        h, w = x.shape[1:3]
        out = (c[:, k:k + h, k:k + w] - c[:, :h, k:k + w] - c[:, k:k + h, :w] + c[:, :h, :w]) / (k * k)
    elif kind == "desaturate":
        grey = x.mean(-1, keepdims=True)
        out = grey + 0.2 * (x - grey)
    elif kind == "noise":
        out = x + np.random.default_rng(seed).normal(0.0, 0.25, x.shape)
    elif kind == "darken":
        out = 0.25 * x
    else:
        raise ValueError(f"unknown degradation {kind!r}; choose from {sorted(DEGRADATIONS)}")
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def degradation_agreement(scorer, images: np.ndarray, prompts: list[str], seed: int = 0) -> list[dict]:
    """One judgement per (image, degradation): does the scorer rate the degraded copy lower than
    the image on the dimension the degradation damages?"""
    rows = []
    for kind, dimension in DEGRADATIONS.items():
        col = (dimension,)
        clean = measure_photos(scorer, images, prompts, col)[:, 0]
        worse = measure_photos(scorer, degrade(images, kind, seed), prompts, col)[:, 0]
        rows += [{"kind": f"degraded:{kind}", "dimension": dimension, "correct": bool(c > w)}
                 for c, w in zip(clean, worse, strict=True)]
    return rows
