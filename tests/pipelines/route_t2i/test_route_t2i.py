"""route_t2i: node behaviour and the whole graph on an in-memory catalog with the test config."""

from pathlib import Path

import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from dcpipelines.core.reporting import Report
from dcpipelines.pipelines.route_t2i import create_pipeline, nodes

ROOT = Path(__file__).resolve().parents[3]
PARAMS = yaml.safe_load((ROOT / "conf/test/parameters_route_t2i.yml").read_text())["route_t2i"]


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
    table = nodes.build_scene_prompts(3, world)
    assert table["split"].value_counts().to_dict() == {"generator_train": 30, "router_train": 20, "test": 10}
    assert table["prompt"].is_unique
    assert table.equals(nodes.build_scene_prompts(3, world))


def test_cached_scorer_is_reused_only_when_its_inputs_match():
    from dcpipelines.core.nn.decoder import fingerprint

    stamp = fingerprint(PARAMS["scorer"], 7, PARAMS["world"]["image_size"], PARAMS["world"]["level_weights"])
    cached = {"fingerprint": stamp, "marker": True}
    assert nodes.fit_scorer(7, PARAMS["world"], PARAMS["scorer"], cached) is cached


def test_pipeline_runs_end_to_end_on_the_test_config():
    from dcpipelines.core.data import read_prompts

    prompts = read_prompts(ROOT / "data/01_raw/prompts/PartiPrompts.tsv")
    catalog = DataCatalog({
        "t2i_prompts": MemoryDataset(prompts),
        "route_t2i.generators_cache": MemoryDataset(None),
        "route_t2i.scorer_cache": MemoryDataset(None),
    })
    for key, value in PARAMS.items():
        catalog[f"params:route_t2i.{key}"] = value
    outputs = SequentialRunner().run(create_pipeline(), catalog)
    report = outputs["route_t2i.report"].load()
    assert isinstance(report, Report)
    required = ["quality_all_edge", "quality_all_cloud", "cloud_fraction_for_95pct_of_cloud_quality",
                "gain_recovered_routet2i_b50", "gain_recovered_random_b50",
                "cloud_requests_saved_vs_random_at_half_gain", "scorer_agreement",
                "routing_ms_per_prompt"]
    required += [f"quality_{r}_b{b}" for r in ("routet2i", "random", "oracle") for b in (25, 50, 75)]
    assert set(required) <= set(report.metrics)
    m = report.metrics
    for b in (25, 50, 75):  # nothing beats the oracle at the same budget
        assert m[f"quality_oracle_b{b}"] >= m[f"quality_routet2i_b{b}"] - 1e-12
        assert m[f"quality_oracle_b{b}"] >= m[f"quality_random_b{b}"] - 1e-12
    assert 0.0 <= m["scorer_agreement"] <= 1.0
    assert "quality_vs_budget" in report.figures
