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


def embed_prompts(scene_prompts: pd.DataFrame) -> Any:
    """MiniLM sentence embedding of every prompt (row order of ``scene_prompts``), cached under
    the prompts (see :mod:`dcpipelines.core.cache`)."""
    from dcpipelines.core.cache import Cached, fingerprint

    prompts = scene_prompts["prompt"].tolist()

    def build(_previous: Any) -> Any:
        import torch

        from dcpipelines.core.text.encoder import embed_texts

        return torch.as_tensor(embed_texts(prompts))

    return Cached(fingerprint("all-MiniLM-L6-v2", prompts), build)


def embed_tokens(scene_prompts: pd.DataFrame) -> Any:
    """MiniLM token features of the router-training and test prompts (the routers' input),
    cached under those prompts (see :mod:`dcpipelines.core.cache`)."""
    from dcpipelines.core.cache import Cached, fingerprint
    from dcpipelines.core.routing.evaluation import router_prompts, split_token_features

    prompts = router_prompts(scene_prompts)
    return Cached(fingerprint("all-MiniLM-L6-v2 token embeddings", prompts),
                  lambda _previous: split_token_features(prompts))


def load_embeddings(prompt_embedding_cache: Any) -> np.ndarray:
    """The cached prompt embeddings as a float32 array."""
    return np.asarray(prompt_embedding_cache, dtype=np.float32)


def fit_models(scene_prompts: pd.DataFrame, prompt_embeddings: np.ndarray, seed: int, generators: dict[str, Any],
               scorer: dict[str, Any], workers: int, model_source: Any) -> Any:
    """The quality scorer and the edge and cloud generators, cached (see
    :mod:`dcpipelines.core.cache`); what must be trained is trained in up to ``workers`` processes."""
    return model_source.fit_models(scene_prompts, prompt_embeddings, seed, generators, scorer, int(workers))


def open_models(world_models: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stored generators and scorer, apart (both empty when the run uses local models)."""
    return world_models.get("generators", {}), world_models.get("scorer", {})


def check_scorer(scorer_model: dict[str, Any], seed: int, world: dict[str, Any], scorer: dict[str, Any],
                 model_source: Any) -> pd.DataFrame:
    """The scorer's agreement with known truth on fresh scenes, per object count (1, 2, 3 = three
    or more), kind and dimension."""
    from dcpipelines.core.routing.sources import validation_scenes

    scenes = validation_scenes(seed, world, int(scorer["n_validation"]))
    table = model_source.judge_scorer(scorer_model, scenes, seed)
    table = table.assign(objects=table["objects"].clip(upper=3))
    return table.groupby(["objects", "kind", "dimension"], as_index=False)["correct"].agg(["mean", "size"]) \
        .rename(columns={"mean": "agreement", "size": "judgements"})


def measure_quality(scene_prompts: pd.DataFrame, prompt_embeddings: np.ndarray, generators_model: dict[str, Any],
                    scorer_model: dict[str, Any], seed: int, model_source: Any) -> Any:
    """Both sides' images for the router-training and test prompts, scored per dimension; cached
    (see :mod:`dcpipelines.core.cache`) under the models, settings and prompts it depends on."""
    keep = (scene_prompts["split"] != "generator_train").to_numpy()
    return model_source.measurement(scene_prompts[keep], prompt_embeddings[keep], generators_model, scorer_model,
                                    seed)


def unpack_measurement(measurement: dict[str, Any], scene_prompts: pd.DataFrame,
                       ) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, Any]]:
    """The stored measurement as a table (one row per prompt and side), a few example images
    for the report, and what each side was (source, parameters, time per image)."""
    from dcpipelines.core.routing.evaluation import measured_table
    from dcpipelines.core.routing.sources import Measured

    result = Measured.unpack(measurement)
    measured = measured_table(result.prompt_ids, result.quality, result.dimensions)
    examples = dict(result.examples)
    prompts = scene_prompts.set_index("prompt_id").loc[result.prompt_ids, "prompt"].tolist()
    examples["prompts"] = np.asarray(prompts[len(prompts) - len(examples.get("edge", [])):])
    return measured, examples, result.info


def fit_routers(scene_prompts: pd.DataFrame, prompt_embeddings: np.ndarray, measured_quality: pd.DataFrame,
                token_features: dict[str, Any], seed: int, seeds: int, router: dict[str, Any],
                workers: int) -> tuple[dict[str, Any], pd.DataFrame]:
    """RouteT2I's dual-gate predictor, its ablations and the baselines, trained once per run
    seed (in up to ``workers`` processes); their test predictions (one row per seed and test prompt)."""
    from dcpipelines.core.routing.evaluation import train_routers
    from dcpipelines.core.seeds import seed_list

    return train_routers(scene_prompts, prompt_embeddings, measured_quality, seed_list(seed, seeds), router,
                         int(workers), token_features)


def hand_mlflow_models(router_models: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The first seed's RouteT2I predictor, to be logged and registered as an MLflow model."""
    import torch

    from dcpipelines.core.devices.models import hand_off
    from dcpipelines.core.routing.dual_gate import ServedPredictor

    example = torch.as_tensor(router_models["test_tokens"].embeddings[:1])
    return hand_off("route_t2i", {"predictor": {
        "module": ServedPredictor(router_models["predictor"]).eval(), "example_input": example,
        "description": "route_t2i's dual-gate predictor: zero-padded MiniLM token embeddings -> the PRS "
                       "term D_i per quality dimension (mean: predicted PRS; below 1/2: cloud better)"}})


def evaluate_routing(scene_prompts: pd.DataFrame, measured_quality: pd.DataFrame, router_predictions: pd.DataFrame,
                     seed: int, router: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Quality-versus-budget curves of every router on the test prompts (mean over seeds) and
    every routing figure per seed."""
    from dcpipelines.core.routing import evaluation as ev

    mu, gamma = ev.mean_quality(measured_quality, scene_prompts), float(router["prs_gamma"])
    tables, rows = [], []
    for run_seed, pred in router_predictions.groupby("seed", sort=True):
        curves = ev.router_curves(measured_quality, scene_prompts, pred, int(run_seed),
                                  int(router["random_repeats"]), mu, gamma)
        figures = ev.budget_metrics(curves, router["budgets"])
        figures.update(ev.prediction_metrics(measured_quality, scene_prompts, pred, mu, gamma))
        rows.append({"seed": int(run_seed), **figures})
        tables.append(ev.curves_table(curves))
    curves_mean = pd.concat(tables).groupby(["router", "cloud_share"], sort=False, as_index=False).mean()
    return curves_mean, pd.DataFrame(rows)


def check_premise(scene_prompts: pd.DataFrame, measured_quality: pd.DataFrame,
                  router: dict[str, Any]) -> dict[str, float]:
    """The world against the paper's premise: the cloud's win rate and gap by number of objects."""
    from dcpipelines.core.routing import evaluation as ev

    mu = ev.mean_quality(measured_quality, scene_prompts)
    return ev.premise_metrics(measured_quality, scene_prompts, mu, float(router["prs_gamma"]))


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
