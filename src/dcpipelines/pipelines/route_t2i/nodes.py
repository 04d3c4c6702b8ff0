"""Nodes of the RouteT2I pipeline: thin wiring around core.routing and core.imaging.

Which models a run uses (the built-in scene world or local model folders) is decided once, by
:func:`pick_model_source`; every later node asks that source object. torch and the core modules
that import it are imported inside the functions, so that Kedro can import this pipeline cheaply.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def pick_model_source(world: dict[str, Any], adapters: dict[str, Any]) -> Any:
    """The model source of the run: built-in scene world, or local diffusers/CLIP folders."""
    from dcpipelines.core.routing.sources import pick_model_source as pick

    return pick(world, adapters)


def analyse_prompt_mix(t2i_prompts: pd.DataFrame) -> pd.DataFrame:
    """PartiPrompts by challenge: how many, what share, how long, the most common category."""
    words = t2i_prompts["prompt"].str.split().str.len()
    frame = t2i_prompts.assign(words=words)
    table = frame.groupby("challenge").agg(
        prompts=("prompt_id", "size"), mean_words=("words", "mean"),
        top_category=("category", lambda c: c.value_counts().index[0]),
    ).reset_index()
    table["share"] = table["prompts"] / len(frame)
    return table.sort_values(["prompts", "challenge"], ascending=[False, True]).reset_index(drop=True)


def build_scene_prompts(t2i_prompts: pd.DataFrame, seed: int, model_source: Any) -> pd.DataFrame:
    """The prompts of the run, split into (generator training,) router training and test."""
    return model_source.prompts(t2i_prompts, seed)


def embed_prompts(scene_prompts: pd.DataFrame) -> np.ndarray:
    """MiniLM sentence embedding of every prompt (row order of ``scene_prompts``)."""
    from dcpipelines.core.text.encoder import embed_texts

    return embed_texts(scene_prompts["prompt"].tolist())


def fit_generators(scene_prompts: pd.DataFrame, prompt_embeddings: np.ndarray, seed: int,
                   generators: dict[str, Any], model_source: Any) -> Any:
    """The edge and cloud generators, cached (see :mod:`dcpipelines.core.cache`)."""
    return model_source.fit_generators(scene_prompts, prompt_embeddings, seed, generators)


def fit_scorer(seed: int, scorer: dict[str, Any], model_source: Any) -> Any:
    """The quality scorer, cached (see :mod:`dcpipelines.core.cache`)."""
    return model_source.fit_scorer(seed, scorer)


def check_scorer(scorer_model: dict[str, Any], seed: int, world: dict[str, Any], scorer: dict[str, Any],
                 model_source: Any) -> pd.DataFrame:
    """The scorer's agreement with known truth on fresh scenes, per kind and dimension."""
    from dcpipelines.core.routing.sources import validation_scenes

    scenes = validation_scenes(seed, world, int(scorer["n_validation"]))
    table = model_source.judge_scorer(scorer_model, scenes, seed)
    return table.groupby(["kind", "dimension"], as_index=False)["correct"].agg(["mean", "size"]) \
        .rename(columns={"mean": "agreement", "size": "judgements"})


def generate_and_measure(scene_prompts: pd.DataFrame, prompt_embeddings: np.ndarray,
                         generators_model: dict[str, Any], scorer_model: dict[str, Any], seed: int,
                         model_source: Any, measured_quality_cache: pd.DataFrame | None = None,
                         ) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, Any]]:
    """Both sides' images for the router-training and test prompts, scored per dimension: one
    row per (prompt, side), a few example images for the report, and what each side was."""
    from dcpipelines.core.routing.evaluation import measured_table

    keep = (scene_prompts["split"] != "generator_train").to_numpy()
    frame = scene_prompts[keep]
    result = model_source.measure(frame, prompt_embeddings[keep], generators_model, scorer_model, seed,
                                  measured_quality_cache)
    if result.reused is not None:
        return result.reused, {"prompts": np.asarray([])}, result.info
    measured = model_source.annotate(measured_table(frame["prompt_id"].to_numpy(), result.quality,
                                                    result.dimensions), frame, seed, result.info)
    examples = dict(result.examples)
    examples["prompts"] = np.asarray(frame["prompt"].tolist()[-int(model_source.world["example_images"]):])
    return measured, examples, result.info


def fit_routers(scene_prompts: pd.DataFrame, prompt_embeddings: np.ndarray,
                measured_quality: pd.DataFrame, seed: int,
                router: dict[str, Any]) -> tuple[dict[str, Any], pd.DataFrame]:
    """RouteT2I's key-token predictor and the single-metric baseline, and their test predictions."""
    from dcpipelines.core.routing.evaluation import train_routers

    return train_routers(scene_prompts, prompt_embeddings, measured_quality, seed, router)


def evaluate_routing(scene_prompts: pd.DataFrame, measured_quality: pd.DataFrame,
                     router_predictions: pd.DataFrame, seed: int,
                     router: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, float]]:
    """Quality-versus-budget curves of every router on the test prompts, and the headline figures."""
    from dcpipelines.core.routing import evaluation as ev

    curves = ev.router_curves(measured_quality, scene_prompts, router_predictions, seed,
                              int(router["random_repeats"]))
    metrics = ev.budget_metrics(curves, router["budgets"])
    metrics.update(ev.prediction_metrics(measured_quality, scene_prompts, router_predictions))
    return ev.curves_table(curves), metrics


def routing_costs(generators_model: dict[str, Any], generation_info: dict[str, Any], costs: dict[str, Any],
                  router: dict[str, Any], model_source: Any, routing_curves: pd.DataFrame,
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What each cloud budget costs (latency, cloud spend, device energy), and what quality each
    router reaches under money and latency budgets turned into cloud shares."""
    from dcpipelines.core.routing.costs import budget_table, quality_under_budgets

    table, flops = model_source.cost_model(generators_model, generation_info, costs)
    budgets = [("price_per_1k", v) for v in costs.get("price_budgets_per_1k") or []]
    budgets += [("mean_latency_ms", v) for v in costs.get("latency_budgets_ms") or []]
    return budget_table(table, router["budgets"], flops), quality_under_budgets(table, budgets, routing_curves)


def time_routing(router_models: dict[str, Any], timing: dict[str, Any]) -> dict[str, float]:
    """Wall-clock cost of a routing decision and of the token encoding, per prompt."""
    from dcpipelines.core.routing.evaluation import time_routing as measure

    return measure(router_models, int(timing["repeats"]), int(timing["encode_prompts"]))


def hand_device_models(generators_model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The trained edge generator for on_device (nothing when the run uses local models)."""
    if "edge" not in generators_model:
        return {}
    import torch

    from dcpipelines.core.devices.models import hand_off
    from dcpipelines.core.imaging.generators import unpack_generator

    packed = generators_model["edge"]
    edge = {"module": unpack_generator(packed).eval(), "example_input": torch.zeros(1, packed["spec"]["text_dim"]),
            "description": "route_t2i's edge text-to-image generator: MiniLM embedding -> RGB image"}
    return hand_off("route_t2i", {"edge_generator": edge})
