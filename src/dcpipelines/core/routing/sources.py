"""Where a RouteT2I run gets its prompts, generators and quality scorer: the built-in scene world
(procedural scenes; small generators and a CLIP-style scorer trained here) or real models from
local folders (two diffusers pipelines and a local CLIP model, on a PartiPrompts sample).

:func:`pick_model_source` decides once, from the ``adapters`` settings, and every step then asks
the source object instead of branching on the choice itself. Both sources give the same shapes:
a prompt table, per-dimension quality of both sides' images, scorer judgements and a cost model.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dcpipelines.core.cache import Cached, fingerprint
from dcpipelines.core.data.errors import DataValidationError
from dcpipelines.core.seeds import derive_seed

logger = logging.getLogger(__name__)

SPLITS = ("generator_train", "router_train", "test")
SIDES = ("edge", "cloud")
ADAPTER_PATHS = ("edge_generator_path", "cloud_generator_path", "clip_scorer_path")
PARAMS_FILE = "conf/base/parameters_route_t2i.yml"
COST_SETTINGS = ("edge_profile", "cloud_profile", "network_rtt_ms", "cloud_price_per_1k")


@dataclass
class Measured:
    """Both sides' measured quality (side -> (N, D)), example images, what each side was
    (source, parameters, generation time per image) and the dimension names."""

    quality: dict[str, np.ndarray]
    examples: dict[str, np.ndarray]
    info: dict[str, dict[str, Any]]
    dimensions: list[str]
    prompt_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def pack(self) -> dict[str, Any]:
        """A plain dict of tensors, strings and numbers (what the cache stores)."""
        import torch

        return {"dimensions": list(self.dimensions), "prompt_ids": torch.as_tensor(self.prompt_ids),
                "quality": {k: torch.as_tensor(v) for k, v in self.quality.items()},
                "examples": {k: torch.as_tensor(np.asarray(v)) for k, v in self.examples.items()},
                "info": self.info}

    @staticmethod
    def unpack(packed: dict[str, Any]) -> Measured:
        """The measurement a :meth:`pack` stored."""
        return Measured({k: v.numpy() for k, v in packed["quality"].items()},
                        {k: v.numpy() for k, v in packed["examples"].items()}, packed["info"],
                        list(packed["dimensions"]), packed["prompt_ids"].numpy())


def uses_local_models(adapters: dict[str, Any]) -> bool:
    """True when all three local model paths are set, False when none is; anything in between
    is a configuration error."""
    given = [k for k in ADAPTER_PATHS if adapters.get(k)]
    if given and len(given) < len(ADAPTER_PATHS):
        missing = [k for k in ADAPTER_PATHS if k not in given]
        raise DataValidationError(
            PARAMS_FILE, f"{', '.join(given)} set but {', '.join(missing)} null", field="route_t2i.adapters",
            fix="set all three paths (two local diffusers pipelines and a local CLIP model) or none")
    return bool(given)


def pick_model_source(world: dict[str, Any], adapters: dict[str, Any]) -> SceneWorldSource | LocalModelSource:
    """The source a run uses, chosen once from ``adapters`` (see :func:`uses_local_models`)."""
    if uses_local_models(adapters):
        return LocalModelSource(world, adapters)
    return SceneWorldSource(world, adapters)


def validation_scenes(seed: int, world: dict[str, Any], n: int) -> list:
    """The fresh scenes every scorer is checked on (same draw for both sources)."""
    from dcpipelines.core.imaging.scenes import sample_unique_scenes

    return sample_unique_scenes(derive_seed(seed, "route_t2i.scorer_validation"), n, world["level_weights"])


class SceneWorldSource:
    """The built-in world: procedural scenes, generators and a scorer trained here."""

    local = False

    def __init__(self, world: dict[str, Any], adapters: dict[str, Any]) -> None:
        self.world = world
        self.adapters = adapters

    def prompts(self, t2i_prompts: pd.DataFrame, seed: int) -> pd.DataFrame:
        """Distinct procedural scenes and their prompts, split generator/router training/test."""
        from dcpipelines.core.imaging.scenes import prompt_for, sample_unique_scenes

        sizes = [int(self.world[f"n_{split}"]) for split in SPLITS]
        scenes = sample_unique_scenes(seed, sum(sizes), self.world["level_weights"])
        prompts = [prompt_for(s) for s in scenes]
        return pd.DataFrame({
            "prompt_id": np.arange(len(scenes), dtype=np.int64),
            "split": np.repeat(SPLITS, sizes),
            "level": [s.level for s in scenes],
            "challenge": [f"level {s.level}" for s in scenes],
            "prompt": prompts,
            "n_words": [len(p.split()) for p in prompts],
            "n_objects": [sum(g.count for g in s.groups) for s in scenes],
            "scene": [s.to_json() for s in scenes],
        })

    def fit_models(self, scene_prompts: pd.DataFrame, embeddings: np.ndarray, seed: int,
                   generators: dict[str, Any], scorer: dict[str, Any], workers: int) -> Cached:
        """The scorer and the edge and cloud generators, in one cache entry keyed on both parts'
        keys: the generators' (settings, seed, image size, training prompts) and the scorer's
        (settings, seed, image size, level weights, dimensions). A part the stored value already
        holds under its own key is kept; the others are trained, up to ``workers`` at a time in
        worker processes (:mod:`dcpipelines.core.parallel`: the same models as one at a time)."""
        from dcpipelines.core.imaging.scenes import DIMENSIONS

        size, weights = self.world["image_size"], self.world["level_weights"]
        train = (scene_prompts["split"] == "generator_train").to_numpy()
        stamps = {"generators": fingerprint(generators, int(seed), size, scene_prompts.loc[train, "prompt"].tolist()),
                  "scorer": fingerprint(scorer, int(seed), size, weights, list(DIMENSIONS))}
        return Cached(fingerprint(stamps["scorer"], stamps["generators"]),
                      lambda previous: self._train_models(previous, stamps, scene_prompts[train], embeddings[train],
                                                          seed, generators, scorer, workers))

    def _train_models(self, previous: dict[str, Any] | None, stamps: dict[str, str], frame: pd.DataFrame,
                      embeddings: np.ndarray, seed: int, generators: dict[str, Any], scorer: dict[str, Any],
                      workers: int) -> dict[str, Any]:
        from dcpipelines.core.imaging.scenes import render
        from dcpipelines.core.parallel import run_jobs

        previous = previous or {}
        stored = {part: previous[part] for part in stamps
                  if previous.get(part, {}).get("fingerprint") == stamps[part]}
        jobs: list[tuple[Any, ...]] = []
        if "scorer" not in stored:  # the longest training: handed out first
            jobs.append(("scorer", self.world, seed, scorer))
        if "generators" not in stored:
            images = np.stack([render(s, self.world["image_size"]) for s in scenes_of(frame)])
            jobs += [(side, self.world, seed, generators[side], embeddings, images) for side in SIDES]
        for part in stamps:
            logger.info("route_t2i: %s %s", part, "kept (same key)" if part in stored else "to train")
        trained = dict(zip([job[0] for job in jobs], run_jobs(train_world_model, jobs, workers,
                                                               label="route_t2i: scorer and generators"),
                           strict=True))
        out = dict(stored)
        if "scorer" not in stored:
            out["scorer"] = {"fingerprint": stamps["scorer"], **trained["scorer"]}
        if "generators" not in stored:
            out["generators"] = {"fingerprint": stamps["generators"], **{side: trained[side] for side in SIDES}}
        return out

    def judge_scorer(self, scorer_model: dict[str, Any], scenes: list, seed: int) -> pd.DataFrame:
        """The trained scorer's judgements against the renderer's ground truth."""
        from dcpipelines.core.imaging.scorer import unpack_scorer, validate_scorer
        from dcpipelines.core.text.encoder import embed_texts

        return validate_scorer(unpack_scorer(scorer_model), scenes, embed_texts, self.world["image_size"])

    def measurement(self, frame: pd.DataFrame, embeddings: np.ndarray, generators_model: dict[str, Any],
                    scorer_model: dict[str, Any], seed: int) -> Cached:
        """Both trained generators' images for ``frame``'s prompts, scored per dimension; cached
        under the generators' and the scorer's keys and the prompts."""
        key = fingerprint(generators_model.get("fingerprint"), scorer_model.get("fingerprint"),
                          frame["prompt"].tolist(), int(self.world["example_images"]))
        return Cached(key, lambda _previous: self._measure(frame, embeddings, generators_model,
                                                           scorer_model).pack())

    def _measure(self, frame: pd.DataFrame, embeddings: np.ndarray, generators_model: dict[str, Any],
                 scorer_model: dict[str, Any]) -> Measured:
        from dcpipelines.core.imaging.generators import (
            count_parameters,
            generate_images,
            unpack_generator,
        )
        from dcpipelines.core.imaging.scenes import DIMENSIONS, render
        from dcpipelines.core.imaging.scorer import measure_images, unpack_scorer
        from dcpipelines.core.text.encoder import embed_texts

        scenes, k = scenes_of(frame), int(self.world["example_images"])
        scorer = unpack_scorer(scorer_model)
        quality, examples, info = {}, {}, {}
        for side in SIDES:
            model = unpack_generator(generators_model[side])
            start = time.perf_counter()
            images = generate_images(model, embeddings)
            elapsed = time.perf_counter() - start
            quality[side] = measure_images(scorer, images, scenes, embed_texts)
            examples[side] = images[-k:]
            info[side] = {"source": "built-in", "parameters": count_parameters(model),
                          "s_per_image": elapsed / max(len(images), 1)}
        examples["rendered"] = np.stack([render(s, self.world["image_size"]) for s in scenes[-k:]])
        return Measured(quality, examples, info, list(DIMENSIONS), frame["prompt_id"].to_numpy())

    def cost_model(self, generators_model: dict[str, Any], generation_info: dict[str, Any],
                   costs: dict[str, Any]) -> tuple[Any, dict[str, float]]:
        """Per-request costs on the shared device profiles (roofline estimate from the trained
        generators' FLOPs and bytes), and each side's FLOPs."""
        import torch

        from dcpipelines.core.devices.costs import count_flops
        from dcpipelines.core.imaging.generators import count_parameters, unpack_generator
        from dcpipelines.core.routing.costs import estimate_request_costs

        measured = {}
        for side in SIDES:
            model = unpack_generator(generators_model[side])
            example = torch.zeros(1, generators_model[side]["spec"]["text_dim"])
            measured[side] = (count_flops(model, example), 4.0 * count_parameters(model))
        table = estimate_request_costs(*measured["edge"], *measured["cloud"],
                               payload_bytes=3 * self.world["image_size"] ** 2,
                               **{k: costs[k] for k in COST_SETTINGS})
        return table, {side: measured[side][0] for side in measured}


class LocalModelSource:
    """Real models from local folders: two diffusers pipelines and a local CLIP model, on a
    seeded PartiPrompts sample. Nothing is trained; the measurement is cached (the project's one
    cache) and reused while the models, settings and prompts stay the same."""

    local = True

    def __init__(self, world: dict[str, Any], adapters: dict[str, Any]) -> None:
        self.world = world
        self.adapters = adapters

    def prompts(self, t2i_prompts: pd.DataFrame, seed: int) -> pd.DataFrame:
        """A seeded PartiPrompts sample split into router training and test (``challenge`` is
        Parti's; no generator training split)."""
        n, share = int(self.adapters["prompts"]), float(self.adapters["router_train_share"])
        if not n >= 2 or not 0.0 < share < 1.0:
            raise DataValidationError(PARAMS_FILE, f"prompts={n}, router_train_share={share}",
                                      field="route_t2i.adapters",
                                      fix="use at least 2 prompts and a router_train_share strictly between 0 and 1")
        n = min(n, len(t2i_prompts))
        sample = t2i_prompts.sample(n=n, random_state=int(seed)).reset_index(drop=True)
        n_train = min(max(1, round(share * n)), n - 1)
        return pd.DataFrame({
            "prompt_id": sample["prompt_id"].astype("int64"),
            "split": np.where(np.arange(n) < n_train, "router_train", "test"),
            "level": np.zeros(n, dtype=np.int64),
            "challenge": sample["challenge"].astype(str),
            "prompt": sample["prompt"].astype(str),
            "n_words": sample["prompt"].str.split().str.len().astype("int64"),
            "n_objects": np.zeros(n, dtype=np.int64),  # not known for free-text prompts
            "scene": [""] * n,
        })

    def fit_models(self, scene_prompts: pd.DataFrame, embeddings: np.ndarray, seed: int,
                   generators: dict[str, Any], scorer: dict[str, Any], workers: int) -> Cached:
        """Nothing to train: built-in models an earlier run stored are kept as they are."""
        return keep_stored()

    def judge_scorer(self, scorer_model: dict[str, Any], scenes: list, seed: int) -> pd.DataFrame:
        """The local CLIP on the scenes' true text pairs (rendered larger) and on controlled
        degradations (the degraded copy must score lower on the damaged dimension)."""
        from dcpipelines.core.imaging.local_models import validate_clip

        return pd.DataFrame(validate_clip(self.adapters["clip_scorer_path"], scenes,
                                          int(self.adapters["validation_image_size"]), seed))

    def fingerprint(self, frame: pd.DataFrame, seed: int) -> str:
        """What the measured qualities depend on: settings, when each model folder was last
        written, the seed and the prompts."""
        from dcpipelines.core.imaging.photo_quality import PHOTO_PAIRS

        settings = {k: v for k, v in self.adapters.items()
                    if k not in ("prompts", "router_train_share", "validation_image_size")}
        saved = {k: saved_at(self.adapters[k]) for k in ADAPTER_PATHS}
        return fingerprint(settings, saved, int(seed), frame["prompt_id"].tolist(), frame["prompt"].tolist(),
                           list(PHOTO_PAIRS))

    def measurement(self, frame: pd.DataFrame, embeddings: np.ndarray, generators_model: dict[str, Any],
                    scorer_model: dict[str, Any], seed: int) -> Cached:
        """Both local pipelines' images scored by the local CLIP, cached under
        :meth:`fingerprint` (models, settings, seed, prompts): a re-run with the same key reuses
        the stored measurement instead of generating again."""
        return Cached(self.fingerprint(frame, seed), lambda _previous: self._measure(frame, seed).pack())

    def _measure(self, frame: pd.DataFrame, seed: int) -> Measured:
        from dcpipelines.core.imaging.local_models import measure_local_models

        sides, dims = measure_local_models(self.adapters, frame["prompt"].tolist(), frame["prompt_id"], seed,
                                           examples=int(self.world["example_images"]))
        return Measured({side: r.quality for side, r in sides.items()},
                        {side: r.examples for side, r in sides.items()},
                        {side: {"source": r.source, "parameters": r.parameters, "s_per_image": r.s_per_image}
                         for side, r in sides.items()}, dims, frame["prompt_id"].to_numpy())

    def cost_model(self, generators_model: dict[str, Any], generation_info: dict[str, Any],
                   costs: dict[str, Any]) -> tuple[Any, dict[str, float]]:
        """Per-request costs from ``costs.local_latency_ms`` or, where null, from the measured
        generation time per image on this machine (no FLOPs known)."""
        from dcpipelines.core.routing.costs import measured_costs

        given = costs.get("local_latency_ms") or {}
        latency = {side: float(given[side]) if given.get(side) is not None
                   else 1e3 * generation_info[side]["s_per_image"] for side in SIDES}
        table = measured_costs(latency["edge"], latency["cloud"], **{k: costs[k] for k in COST_SETTINGS})
        return table, {"edge": float("nan"), "cloud": float("nan")}


def train_world_model(part: str, world: dict[str, Any], seed: int, settings: dict[str, Any],
                      embeddings: np.ndarray | None = None, images: np.ndarray | None = None) -> dict[str, Any]:
    """One model of the built-in world, packed: ``part`` "scorer" (trained on its own rendered
    scenes) or a generator side, "edge" or "cloud" (trained on ``images``, the rendered scenes
    of the prompts whose sentence ``embeddings`` are given). A job for :func:`run_jobs`."""
    start = time.perf_counter()
    if part == "scorer":
        from dcpipelines.core.imaging.scenes import sample_unique_scenes
        from dcpipelines.core.imaging.scorer import ScorerSpec, pack_scorer, train_scorer
        from dcpipelines.core.text.encoder import embed_texts

        scenes = sample_unique_scenes(derive_seed(seed, "route_t2i.scorer_scenes"), int(settings["n_scenes"]),
                                      world["level_weights"])
        spec = ScorerSpec(image_size=world["image_size"],
                          **{k: v for k, v in settings.items() if k not in ("n_scenes", "n_validation")})
        logger.info("route_t2i: training the scorer on %d rendered scenes (%d epochs)", len(scenes), spec.epochs)
        model, history = train_scorer(scenes, embed_texts, spec, derive_seed(seed, "route_t2i.scorer_training"))
        packed = pack_scorer(model, spec, history)
    elif part in SIDES and embeddings is not None and images is not None:
        from dcpipelines.core.imaging.generators import (
            GeneratorSpec,
            pack_generator,
            train_generator,
        )

        gen_spec = GeneratorSpec(image_size=world["image_size"], **settings)
        logger.info("route_t2i: training the %s generator on %d rendered scenes (%d epochs)",
                    part, len(images), gen_spec.epochs)
        model, history = train_generator(gen_spec, embeddings, images, derive_seed(seed, f"route_t2i.{part}_generator"))
        packed = pack_generator(model, gen_spec, history)
    else:
        raise ValueError(f"unknown world model {part!r} (or a generator without embeddings and images)")
    return {**packed, "train_s": time.perf_counter() - start}


def keep_stored() -> Cached:
    """Whatever an earlier run stored (or nothing, ``{}``)."""
    return Cached(None, lambda previous: previous if previous is not None else {})


def scenes_of(frame: pd.DataFrame) -> list:
    """The procedural scenes of a prompt table's ``scene`` column."""
    from dcpipelines.core.imaging.scenes import Scene

    return [Scene.from_json(s) for s in frame["scene"]]


def saved_at(folder: str) -> list[int]:
    """When a model folder's files were last written (newest mtime, in ns) and how many there
    are: a model saved again at the same path gets a new stamp."""
    files = [f for f in Path(folder).rglob("*") if f.is_file()]
    return [max((f.stat().st_mtime_ns for f in files), default=0), len(files)]
