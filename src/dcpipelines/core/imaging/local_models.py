"""Running RouteT2I's measurement on real models from local folders: two diffusers pipelines
generate every prompt, a local CLIP scores the images on the photo-quality text pairs, and the
same CLIP is checked against rendered scenes and controlled degradations.

``diffusers`` and ``transformers`` are imported by :mod:`.adapters` inside its functions.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dcpipelines.core.imaging.adapters import ClipScorer, DiffusersGenerator
from dcpipelines.core.imaging.photo_quality import (
    PHOTO_DIMENSIONS,
    degradation_agreement,
    measure_photos,
)
from dcpipelines.core.imaging.scenes import Scene, object_count, prompt_for, quality_pairs, render

logger = logging.getLogger(__name__)

GENERATION_SETTINGS = ("num_inference_steps", "guidance_scale", "height", "width", "batch_size")


@dataclass
class SideResult:
    """One generator's measured quality (N, len(PHOTO_DIMENSIONS)), its last example images,
    parameter count and generation time per image on this machine."""

    quality: np.ndarray
    examples: np.ndarray
    parameters: int
    s_per_image: float
    source: str


def prompt_seeds(seed: int, prompt_ids) -> list[int]:
    """One noise seed per prompt, shared by both sides (same noise, different model)."""
    return [int(seed) * 1_000_003 + int(p) for p in prompt_ids]


def generate_and_score(path: str | Path, clip: ClipScorer, prompts: list[str], seeds: list[int],
                       settings: dict[str, Any], examples: int = 8, label: str = "") -> SideResult:
    """Generate ``prompts`` with the local pipeline at ``path`` a batch at a time and score each
    batch at once, so only the last ``examples`` images are held in memory. Logs progress."""
    gen = DiffusersGenerator(path, **settings)
    chunk = max(int(settings.get("batch_size") or 1), 1)
    parts: list[np.ndarray] = []
    last: list[np.ndarray] = []
    elapsed = 0.0
    for i in range(0, len(prompts), chunk):
        start = time.perf_counter()
        images = gen(prompts[i:i + chunk], seeds=seeds[i:i + chunk])
        elapsed += time.perf_counter() - start
        parts.append(measure_photos(clip, images, prompts[i:i + chunk]))
        last = (list(last) + list(images))[-examples:] if examples else []
        done = min(i + chunk, len(prompts))
        logger.info("%s generator: %d/%d images (%.1f s per image)", label or str(path), done,
                    len(prompts), elapsed / done)
    return SideResult(quality=np.concatenate(parts), examples=np.asarray(last, np.float32),
                      parameters=gen.parameter_count(), s_per_image=elapsed / len(prompts),
                      source=str(path))


def measure_local_models(adapters: dict[str, Any], prompts: list[str], prompt_ids, seed: int,
                         examples: int = 8) -> tuple[dict[str, SideResult], list[str]]:
    """Both sides' results (keys ``edge``, ``cloud``) and the dimension names."""
    clip = ClipScorer(adapters["clip_scorer_path"])
    settings = {k: adapters[k] for k in GENERATION_SETTINGS}
    seeds = prompt_seeds(seed, prompt_ids)
    out = {side: generate_and_score(adapters[f"{side}_generator_path"], clip, prompts, seeds, settings,
                                    examples, label=f"route_t2i: {side}")
           for side in ("edge", "cloud")}
    return out, list(PHOTO_DIMENSIONS)


def validate_clip(clip_path: str | Path, scenes: list[Scene], image_size: int, seed: int = 0) -> list[dict]:
    """Judgements of a local CLIP against known truth: every true text pair of rendered
    ``scenes`` (the positive must win) and four controlled degradations of the renders (the
    degraded copy must score lower on the dimension it damages)."""
    clip = ClipScorer(clip_path)
    images = np.stack([render(s, image_size) for s in scenes])
    pairs = [(i, d, p, n) for i, s in enumerate(scenes) for d, p, n in quality_pairs(s)]
    embedded = clip.embed_images(images)  # once per scene, then one text pair per probe
    q = clip.quality_of_embeddings(embedded[[i for i, *_ in pairs]], [p for *_, p, _ in pairs],
                                   [n for *_, n in pairs])
    rows = [{"kind": "true", "dimension": d, "objects": object_count(scenes[i]), "correct": bool(v > 0.5)}
            for (i, d, _, _), v in zip(pairs, q, strict=True)]
    degraded = degradation_agreement(clip, images, [prompt_for(s) for s in scenes], seed)
    # one row per degradation and scene, scenes in order within each degradation
    return rows + [{**row, "objects": object_count(scenes[k % len(scenes)])} for k, row in enumerate(degraded)]
