"""route_t2i: node behaviour and the whole graph on an in-memory catalog with the test config."""

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from dcpipelines.config import load_parameters
from dcpipelines.core.data import read_prompts
from dcpipelines.core.data.errors import DataValidationError
from dcpipelines.core.reporting import Report
from dcpipelines.core.routing.sources import pick_model_source, uses_local_models
from dcpipelines.datasets import CacheDataset
from dcpipelines.pipelines.route_t2i import create_pipeline, nodes

ROOT = Path(__file__).resolve().parents[3]
PARAMS = load_parameters("route_t2i", env="test")
PARTI = read_prompts(ROOT / "data/01_raw/prompts/PartiPrompts.tsv")


def test_prompt_mix_counts_every_prompt_once():
    prompts = pd.DataFrame({
        "prompt_id": range(5), "prompt": ["a cat", "two dogs on a mat", "x", "y z", "a b c"],
        "category": ["Animals", "Animals", "Arts", "Arts", "Arts"],
        "challenge": ["Basic", "Quantity", "Basic", "Basic", "Complex"], "note": [""] * 5,
    })
    mix = nodes.analyse_prompt_mix(prompts)
    assert mix["prompts"].sum() == 5 and mix["share"].sum() == pytest.approx(1.0)
    basic = mix.set_index("challenge").loc["Basic"]
    assert basic["prompts"] == 3 and basic["top_category"] == "Arts"
    assert basic["mean_words"] == pytest.approx((2 + 1 + 2) / 3)


def test_scene_prompts_splits_are_disjoint_and_sized():
    world = {**PARAMS["world"], "n_generator_train": 30, "n_router_train": 20, "n_test": 10}
    table = nodes.build_scene_prompts(PARTI, 3, pick_model_source(world, PARAMS["adapters"]))
    assert table["split"].value_counts().to_dict() == {"generator_train": 30, "router_train": 20, "test": 10}
    assert table["prompt"].is_unique
    assert (table["challenge"] == "level " + table["level"].astype(str)).all()
    assert table.equals(nodes.build_scene_prompts(PARTI, 3, pick_model_source(world, PARAMS["adapters"])))


def _local(adapters=None, **paths):
    return {**PARAMS["adapters"], "edge_generator_path": "e", "cloud_generator_path": "c",
            "clip_scorer_path": "s", **(adapters or {}), **paths}


def test_local_models_draw_a_seeded_partiprompts_sample():
    adapters = _local({"prompts": 40, "router_train_share": 0.25})
    table = nodes.build_scene_prompts(PARTI, 5, pick_model_source(PARAMS["world"], adapters))
    assert table["split"].value_counts().to_dict() == {"router_train": 10, "test": 30}
    assert table["prompt_id"].is_unique and set(table["prompt_id"]) <= set(PARTI["prompt_id"])
    parti = PARTI.set_index("prompt_id")
    assert (parti.loc[table["prompt_id"], "prompt"].to_numpy() == table["prompt"].to_numpy()).all()
    assert (parti.loc[table["prompt_id"], "challenge"].to_numpy() == table["challenge"].to_numpy()).all()
    assert table.equals(nodes.build_scene_prompts(PARTI, 5, pick_model_source(PARAMS["world"], adapters)))
    assert not table.equals(nodes.build_scene_prompts(PARTI, 6, pick_model_source(PARAMS["world"], adapters)))


def test_adapter_paths_are_all_or_nothing():
    half = _local(clip_scorer_path=None)
    with pytest.raises(DataValidationError, match="route_t2i.adapters.*clip_scorer_path null"):
        nodes.build_scene_prompts(PARTI, 1, pick_model_source(PARAMS["world"], half))
    with pytest.raises(DataValidationError, match="router_train_share"):
        nodes.build_scene_prompts(PARTI, 1, pick_model_source(PARAMS["world"], _local({"router_train_share": 1.0})))
    assert uses_local_models(_local()) and not uses_local_models(PARAMS["adapters"])


def test_local_models_keep_the_stored_builtin_models(tmp_path):
    store = CacheDataset(str(tmp_path / "world_models.pt"))
    local = pick_model_source(PARAMS["world"], _local())
    store.save(local.fit_models(None, None, 7, PARAMS["generators"], PARAMS["scorer"], 1))
    assert store.load() == {}
    assert nodes.open_models(store.load()) == ({}, {})
    store.save({"trained": torch.ones(2)})
    store.save(nodes.fit_models(None, None, 7, PARAMS["generators"], PARAMS["scorer"], 1, local))
    assert torch.equal(store.load()["trained"], torch.ones(2))


def test_stored_models_are_reused_part_by_part_when_their_settings_match(tmp_path):
    store = CacheDataset(str(tmp_path / "world_models.pt"))
    builtin = pick_model_source(PARAMS["world"], PARAMS["adapters"])
    frame = nodes.build_scene_prompts(PARTI, 7, builtin)
    embeddings = np.random.default_rng(0).normal(size=(len(frame), 384)).astype(np.float32)

    def fit(seed=7, generators=PARAMS["generators"], scorer=PARAMS["scorer"], workers=1):
        return builtin.fit_models(frame, embeddings, seed, generators, scorer, workers)

    store.save(fit())
    first = store.load()
    written = (tmp_path / "world_models.pt").stat().st_mtime_ns
    store.save(fit())
    assert (tmp_path / "world_models.pt").stat().st_mtime_ns == written
    assert fit(scorer={**PARAMS["scorer"], "epochs": 1}).key != fit().key
    assert fit(seed=8).key != fit().key
    assert fit(workers=2).key == fit().key  # the process count changes nothing that is stored
    # new generator settings: the generators are trained again, the stored scorer is kept as it was
    shorter = {side: {**spec, "epochs": 1} for side, spec in PARAMS["generators"].items()}
    store.save(fit(generators=shorter))
    second = store.load()
    assert second["scorer"]["train_s"] == first["scorer"]["train_s"]
    assert second["generators"]["fingerprint"] != first["generators"]["fingerprint"]
    assert len(second["generators"]["edge"]["loss_history"]) == 1 < len(first["generators"]["edge"]["loss_history"])


class KeptDataset(MemoryDataset):
    """A memory dataset the runner does not release, to look at an intermediate output."""

    def _release(self) -> None:
        pass


ISSUE_KEYS = (
    [f"gain_recovered_{r}_b{b}" for r in ("routet2i", "random", "routellm", "hybrid", "zooter", "oracle")
     for b in (40, 50, 80)]
    + [f"cloud_requests_saved_vs_random_at_{g}pct_gain" for g in (40, 50, 60)]
    + [f"ablation_{a}_b{b}" for a in ("no_multi_metric", "no_token_selection", "no_dual_gate") for b in (40, 50, 80)]
    + ["cloud_fraction_for_95pct_of_cloud_quality"]
)
PREMISE_KEYS = ["cloud_win_rate_1_objects", "cloud_win_rate_2_objects", "cloud_win_rate_3plus_objects",
                "edge_win_rate_overall", "scorer_agreement_1_objects", "scorer_agreement_2_objects",
                "scorer_agreement_3plus_objects"]


def _run(params: dict, models=None) -> tuple[Report, dict]:
    models = models or Path(tempfile.mkdtemp(prefix="route_t2i-models-"))
    catalog = DataCatalog({
        "t2i_prompts": MemoryDataset(PARTI),
        "route_t2i.world_models": CacheDataset(str(models / "world_models.pt")),
        "route_t2i.measurement": CacheDataset(str(models / "measurement.pt")),
        "route_t2i.prompt_embedding_cache": CacheDataset(str(models / "prompt_embeddings.pt")),
        "route_t2i.token_feature_cache": CacheDataset(str(models / "token_features.pt")),
        "route_t2i.measured_quality": KeptDataset(),
        "route_t2i.mlflow_models": KeptDataset(),
    })
    for key, value in params.items():
        catalog[f"params:route_t2i.{key}"] = value
    outputs = SequentialRunner().run(create_pipeline(), catalog)
    report = outputs["route_t2i.report"].load()
    assert isinstance(report, Report)
    m = report.metrics
    required = ["quality_all_edge", "quality_all_cloud", "scorer_agreement", "routing_ms_per_prompt", "seeds"]
    required += [k + tail for k in ISSUE_KEYS for tail in ("", "_ci_low", "_ci_high")]
    assert set(required) <= set(m), sorted(set(required) - set(m))
    assert m["seeds"] == params["seeds"]
    for b in (40, 50, 80):  # nothing beats the oracle at the same budget
        for name in ("routet2i", "random", "zooter", "hybrid", "routellm"):
            assert m[f"quality_oracle_b{b}"] >= m[f"quality_{name}_b{b}"] - 1e-12
        assert m[f"gain_recovered_routet2i_b{b}_ci_low"] <= m[f"gain_recovered_routet2i_b{b}"]
    # a spend of 0.25 per 1,000 prompts at 0.5 per 1,000 cloud generations buys a 50% cloud share
    assert params["costs"]["cloud_price_per_1k"] == 0.5 and 0.25 in params["costs"]["price_budgets_per_1k"]
    assert m["cloud_share_at_price_per_1k_0p25"] == pytest.approx(0.5)
    assert m["quality_routet2i_at_price_per_1k_0p25"] == pytest.approx(m["quality_routet2i_b50"])
    assert "quality_vs_budget" in report.figures
    assert any(name.startswith("routet2i_seed") for name in report.histories)
    assert "route_t2i_predictor" in catalog.load("route_t2i.mlflow_models")
    return report, catalog


def test_pipeline_shows_the_headline_direction_on_the_test_config():
    """The test world behaves like real edge/cloud pairs (the cloud better overall, its win rate
    and gap growing with the number of objects): the oracle recovers most of the gap, RouteT2I
    beats random routing by a margin, and every figure comes with an interval over the seeds."""
    from dcpipelines.core.imaging.scenes import DIMENSIONS

    report, _ = _run(PARAMS)
    m = report.metrics
    assert "examples" in report.figures
    assert m["local_models"] == 0 and m["quality_dimensions"] == len(DIMENSIONS)
    assert all(f"quality_edge_{d}" in m for d in DIMENSIONS) and set(PREMISE_KEYS) <= set(m)
    assert m["quality_all_cloud"] > m["quality_all_edge"]
    # the paper's premise: the cloud's win rate and gap grow with the number of objects, and the
    # edge is better on a good share of the one-object prompts
    assert m["cloud_win_rate_3plus_objects"] > m["cloud_win_rate_1_objects"] + 0.1
    assert m["cloud_gap_3plus_objects"] > m["cloud_gap_1_objects"]
    assert m["cloud_win_rate_1_objects"] < 0.9
    assert m["gain_recovered_oracle_b50"] > 0.8
    assert m["gain_recovered_routet2i_b50"] > m["gain_recovered_random_b50"] + 0.1
    assert {"edge_generator_loss", "cloud_generator_loss", "scorer_loss"} <= set(report.histories)


def test_pipeline_runs_on_local_diffusers_pipelines_and_a_local_clip(tiny_sd_folder, tiny_sd_large_folder,
                                                                   tiny_clip_folder):
    """The same graph with real-model adapters: tiny random Stable Diffusion pipelines as the
    edge and cloud generators and a tiny random CLIP as the scorer, on a PartiPrompts sample."""
    from dcpipelines.core.imaging.photo_quality import PHOTO_DIMENSIONS

    adapters = {**PARAMS["adapters"], "edge_generator_path": str(tiny_sd_folder),
                "cloud_generator_path": str(tiny_sd_large_folder), "clip_scorer_path": str(tiny_clip_folder),
                "prompts": 12, "batch_size": 5, "guidance_scale": 1.0, "num_inference_steps": 2}
    params = {**PARAMS, "adapters": adapters,
              "scorer": {**PARAMS["scorer"], "n_validation": 4}, "world": {**PARAMS["world"], "example_images": 2}}
    models = Path(tempfile.mkdtemp(prefix="route_t2i-local-"))
    report, catalog = _run(params, models)
    m = report.metrics
    assert "examples" in report.figures
    assert m["local_models"] == 1 and m["quality_dimensions"] == len(PHOTO_DIMENSIONS)
    assert m["test_prompts"] == 6 and all(f"quality_cloud_{d}" in m for d in PHOTO_DIMENSIONS)
    assert m["edge_generator_params"] > 0 and m["edge_generation_ms_per_image"] > 0
    assert m["cloud_generator_params"] > m["edge_generator_params"]
    # a re-run with the same models, settings and prompts reuses the cached measurement
    stored = models / "measurement.pt"
    written = stored.stat().st_mtime_ns
    again, _ = _run(params, models)
    assert stored.stat().st_mtime_ns == written and "examples" in again.figures
    assert again.metrics["gain_recovered_routet2i_b50"] == m["gain_recovered_routet2i_b50"]
    assert again.metrics["edge_generation_ms_per_image"] == m["edge_generation_ms_per_image"]
    # other settings: measured again, not reused
    _run({**params, "adapters": {**adapters, "num_inference_steps": 3}}, models)
    assert stored.stat().st_mtime_ns != written
    written = stored.stat().st_mtime_ns
    # the same settings but a model saved again in its folder: measured again too
    config = tiny_clip_folder / "config.json"
    os.utime(config, ns=(config.stat().st_atime_ns, config.stat().st_mtime_ns + 10**9))
    _run(params, models)
    assert stored.stat().st_mtime_ns != written
