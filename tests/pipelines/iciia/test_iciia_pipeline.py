"""The iciia pipeline at test size on a class-balanced slice of the shipped CIFAR-10, through an
in-memory catalog; the backbone and feature caches are reused only when their inputs match."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from dcpipelines.core.data import read_image_table
from dcpipelines.datasets import CacheDataset
from dcpipelines.pipelines.iciia import create_pipeline, nodes

ROOT = Path(__file__).resolve().parents[3]
PARAMS = yaml.safe_load((ROOT / "conf/test/parameters_iciia.yml").read_text())["iciia"]
PARAMS["seed"] = 42  # the configured value interpolates the global seed
REQUIRED = ["backbone_acc", "ff_acc", "finetune_acc", "prompt_acc", "iciia_b_acc", "iciia_t_acc",
            "iciia_t_gain_points", "iciia_t_flops_overhead_pct", "iciia_b_flops_overhead_pct",
            "no_shuffle_acc", "num_clients", "seq_len", "partitions_t"]


class KeptDataset(MemoryDataset):
    """A memory dataset the runner does not release, to look at an intermediate output."""

    def _release(self) -> None:
        pass


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    data = PARAMS["data"]
    table = pd.read_parquet(ROOT / "data/01_raw/images/cifar10.parquet")
    keep = {"train": (data["backbone_images"] + data["pool_images"]) // 10,
            "test": data["test_images"] // 10}
    subset = pd.concat(table[table["split"] == split].groupby("label").head(n)
                       for split, n in keep.items())
    path = tmp_path_factory.mktemp("cifar") / "cifar10_slice.parquet"
    subset.to_parquet(path, index=False)
    return read_image_table(path)


@pytest.fixture(scope="module")
def run(images, tmp_path_factory):
    store = tmp_path_factory.mktemp("iciia_cache")
    catalog = DataCatalog({
        "cifar10_images": MemoryDataset(images),
        "iciia.backbone": CacheDataset(str(store / "backbone.pt")),
        "iciia.features": CacheDataset(str(store / "features.pt")),
        "iciia.image_pools": KeptDataset(),
    })
    for key, value in PARAMS.items():
        catalog[f"params:iciia.{key}"] = value
    outputs = SequentialRunner().run(create_pipeline(), catalog)
    return outputs["iciia.report"].load(), outputs["iciia.device_models"].load(), catalog


def test_report_has_the_named_metrics_and_the_effect(run):
    report, _, _ = run
    m = report.metrics
    assert set(REQUIRED) <= set(m)
    assert m["num_clients"] == PARAMS["clients"]["num_clients"]
    assert m["seq_len"] == PARAMS["module"]["seq_len"]
    assert m["partitions_t"] == PARAMS["module"]["partitions_t"]
    assert m["iciia_t_gain_points"] == pytest.approx(100 * (m["iciia_t_acc"] - m["backbone_acc"]))
    # partitioning cuts the module's cost; both stay small next to the backbone
    assert 0 < m["iciia_t_flops_overhead_pct"] < m["iciia_b_flops_overhead_pct"] < 20
    # the method's effect at test size: clients hold 2 classes, the attention finds them
    assert m["iciia_b_acc"] > m["backbone_acc"] + 0.03
    assert m["iciia_t_acc"] > m["backbone_acc"]
    assert {"methods", "accuracy_vs_partitions", "accuracy_vs_seq_len",
            "client_gain_histogram"} <= set(report.figures)
    sweep = report.tables["partition_sweep"]
    assert set(sweep["partitions"]) == set(PARAMS["sweeps"]["partitions"])


def test_device_models_follow_the_contract(run):
    _, device_models, _ = run
    assert set(device_models) == {"iciia_backbone", "iciia_backbone_iciia_t"}
    for entry in device_models.values():
        module, example = entry["module"], entry["example_input"]
        assert not module.training and example.shape[0] == 1 and entry["description"]
        with torch.no_grad():
            assert module(example).shape == (1, 10)


def test_caches_are_reused_only_when_their_inputs_match(run, images):
    _, _, catalog = run
    backbone, features = catalog.load("iciia.backbone"), catalog.load("iciia.features")
    pools = catalog.load("iciia.image_pools")
    args = (images, pools, PARAMS["backbone"], PARAMS["data"], PARAMS["seed"])
    same = nodes.fit_backbone(*args)
    assert same.reuses(backbone["fingerprint"])  # the stored backbone is kept
    assert nodes.extract_features(images, pools, backbone).reuses(features["fingerprint"])
    changed_spec = nodes.fit_backbone(images, pools, {**PARAMS["backbone"], "epochs": 1},
                                      PARAMS["data"], PARAMS["seed"])
    assert not changed_spec.reuses(backbone["fingerprint"])
    changed = changed_spec.build(None)
    assert changed["fingerprint"] != backbone["fingerprint"]
    fresh_spec = nodes.extract_features(images, pools, changed)
    assert not fresh_spec.reuses(features["fingerprint"])
    fresh = fresh_spec.build(None)
    assert not np.allclose(fresh["test_x"].numpy(), features["test_x"].numpy())


def test_training_curves_have_a_step_per_epoch(run):
    report, _, _ = run
    curves = report.histories
    assert set(curves) == {"backbone_loss", "head_train_loss", "head_val_acc"}
    backbone = curves["backbone_loss"]
    assert backbone["step"].tolist() == list(range(1, PARAMS["backbone"]["epochs"] + 1))
    assert backbone["backbone"].iloc[-1] < backbone["backbone"].iloc[0]  # the backbone learns
    heads = curves["head_train_loss"]
    assert {"ff", "finetune", "prompt", "iciia_b", "iciia_t", "no_shuffle"} <= set(heads.columns)
    assert "backbone" not in heads.columns  # the backbone's own head is not trained
    assert len(heads) > 1 and heads["step"].min() == 1
    assert len(heads) <= PARAMS["training"]["epochs"]
    assert heads["iciia_b"].dropna().iloc[-1] < heads["iciia_b"].iloc[0]
    val = curves["head_val_acc"]
    measured = val.drop(columns="step").to_numpy().ravel()
    measured = measured[~np.isnan(measured)]
    assert len(measured) > len(val) and ((measured >= 0) & (measured <= 1)).all()


@pytest.mark.slow
def test_the_iciia_device_model_round_trips_through_mlflow(run, tmp_path, monkeypatch):
    """backbone + ICIIA-T, logged by the hook as an MLflow model, loads with pyfunc and predicts
    what the module predicts."""
    import mlflow

    from dcpipelines.hooks import DeviceModelsHooks

    _, device_models, _ = run
    entry = device_models["iciia_backbone_iciia_t"]
    batch = torch.cat([entry["example_input"], entry["example_input"].flip(-1)])
    with torch.no_grad():
        expected = entry["module"](batch).numpy()
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        # an experiment of this store only, not made the process's active one (later tests
        # open their own stores)
        experiment = mlflow.MlflowClient().create_experiment("dcpipelines")
        with mlflow.start_run(experiment_id=experiment) as mlflow_run:
            DeviceModelsHooks().after_node_run(
                outputs={"iciia.device_models": {"iciia_backbone_iciia_t": entry}})
        loaded = mlflow.pyfunc.load_model(f"runs:/{mlflow_run.info.run_id}/iciia_backbone_iciia_t")
        np.testing.assert_allclose(loaded.predict(batch.numpy()), expected, rtol=1e-4, atol=1e-5)
        assert expected.argmax(1).tolist() == loaded.predict(batch.numpy()).argmax(1).tolist()
    finally:
        mlflow.set_tracking_uri(None)
