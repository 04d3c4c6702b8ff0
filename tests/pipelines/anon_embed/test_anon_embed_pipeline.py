"""The anon_embed pipeline at test size on the shipped CPED and Shakespeare data."""

from pathlib import Path

import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from dcpipelines.core.data import read_labelled_dialogue, read_script
from dcpipelines.pipelines.anon_embed import create_pipeline
from dcpipelines.pipelines.boundary import boundary_violations

ROOT = Path(__file__).resolve().parents[3]
PARAMS = yaml.safe_load(
    (ROOT / "conf/test/parameters_anon_embed.yml").read_text())["anon_embed"]
PARAMS["seed"] = 42
NAMED = ["central", "on_device", "static_embedding", "anon_gaussian", "anon_beta", "new_user"]


@pytest.fixture(scope="module")
def report():
    catalog = DataCatalog({
        "labelled_dialogue": MemoryDataset(read_labelled_dialogue(
            ROOT / "data/01_raw/labelled_dialogue/cped_test_split.csv.gz")),
        "script_turns": MemoryDataset(read_script(ROOT / "data/01_raw/scripts/tinyshakespeare.txt")),
        **{f"params:anon_embed.{k}": MemoryDataset(v) for k, v in PARAMS.items()},
    })
    outputs = SequentialRunner().run(create_pipeline(), catalog)
    return outputs["anon_embed.report"].load()


def test_every_named_metric_is_reported(report):
    keys = [f"{v}_{m}" for v in NAMED for m in ["acc", "macro_f1", "next_word_acc"]]
    keys += ["tracking_attack_acc", "tracking_chance", "static_tracking_attack_acc",
             "num_users_cls", "num_users_gen", "inference_overhead_pct"]
    missing = [k for k in keys if k not in report.metrics]
    assert missing == []
    users = PARAMS["classification"]["users"]
    assert report.metrics["num_users_cls"] == users["max_users"] - users["new_users"]
    assert report.metrics["tracking_chance"] == pytest.approx(1 / report.metrics["num_users_cls"])
    assert report.metrics["num_seeds"] == PARAMS["seeds"]


def test_static_embeddings_are_tracked_and_closeness_cuts_tracking(report):
    m = report.metrics
    assert m["static_tracking_attack_acc"] == 1.0
    assert m["anon_beta_close_10_tracking_attack_acc"] < m["tracking_attack_acc"]
    assert m["tracking_attack_acc"] < m["static_tracking_attack_acc"]


def test_user_embeddings_help_next_word_prediction(report):
    m = report.metrics
    assert m["anon_beta_next_word_acc"] > m["central_next_word_acc"]
    assert m["static_embedding_next_word_acc"] > m["central_next_word_acc"]


def test_report_has_claims_and_plots(report):
    assert {"per_user_accuracy", "privacy_utility", "embedding_projection"} <= set(report.figures)
    verdicts = {c.claim: c.holds for c in report.claims}
    assert verdicts["static_embedding fully trackable (top-1 linkage)"] is True


def test_cloud_nodes_read_only_uploads():
    pipeline = create_pipeline()
    assert boundary_violations(pipeline) == []
    cloud_inputs = {name for node in pipeline.nodes if "cloud" in node.tags for name in node.inputs}
    assert "anon_embed.cls_embedding_uploads" in cloud_inputs
    assert not any("split" in name or "owners" in name for name in cloud_inputs)


def test_training_losses_are_curves_with_a_step_per_update(report):
    curves = report.histories
    assert set(curves) == {"central_loss", "cloud_loss"}
    central = curves["central_loss"]
    assert central["step"].tolist() == list(range(1, PARAMS["central"]["steps"] + 1))
    assert set(central.columns) == {"step", "cls_seed42", "cls_seed43", "gen_seed42", "gen_seed43"}
    for series in ("cls_seed42", "gen_seed42"):  # the central model learns: late steps beat early
        assert central[series].tail(5).mean() < central[series].head(5).mean(), series
    cloud = curves["cloud_loss"]
    assert len(cloud) == PARAMS["cloud"]["steps"]
    assert {"cls_anon_beta", "cls_static_embedding", "gen_anon_beta"} <= set(cloud.columns)
