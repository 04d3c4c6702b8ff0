"""The dc_ccl pipeline at test size on planted-class images, through an in-memory catalog."""

from pathlib import Path

import torch
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from conftest import planted_image_set
from dcpipelines.pipelines.boundary import boundary_violations
from dcpipelines.pipelines.dc_ccl import create_pipeline

ROOT = Path(__file__).resolve().parents[3]
PARAMS = yaml.safe_load((ROOT / "conf/test/parameters_dc_ccl.yml").read_text())["dc_ccl"]
VARIANTS = ["cloud_only", "device_only", "co_no_mimic", "dc_ccl", "dc_ccl_hetero", "centralized"]
NAMED = ["gap_closed", "mimic_top1_agreement", "mimic_mse", "downlink_bytes_per_round",
         "uplink_bytes_per_round", "raw_samples_uplinked", "large_to_small_param_ratio",
         "rounds"]


def _run(params: dict) -> dict:
    images = planted_image_set(70, seed=0, test_per_class=30)
    catalog = DataCatalog({
        "cifar10_images": MemoryDataset(images, copy_mode="assign"),
        **{f"params:dc_ccl.{k}": MemoryDataset(v) for k, v in params.items()},
        "dc_ccl.device_models": MemoryDataset(copy_mode="assign"),
        "dc_ccl.mlflow_models": MemoryDataset(copy_mode="assign"),
    })
    outputs = SequentialRunner().run(create_pipeline(), catalog)
    return {"report": outputs["dc_ccl.report"].load(),
            "device_models": catalog.load("dc_ccl.device_models"),
            "mlflow_models": catalog.load("dc_ccl.mlflow_models")}


def test_pipeline_reports_every_variant_and_fusion_learns_the_device_classes():
    # planted classes, more images, epochs and rounds than conf/test: the fusion effect shows
    params = {
        **PARAMS, "seed": 7,
        "data": {**PARAMS["data"], "train_per_class": 40, "holdout_per_class": 20,
                 "device_cloud_class_share": 0.25, "test_per_class": 30},
        "cloud_training": {**PARAMS["cloud_training"], "epochs": 4},
        "distillation": {**PARAMS["distillation"], "epochs": 4},
        "rounds": {**PARAMS["rounds"], "rounds": 6, "local_epochs": 3},
    }
    out = _run(params)
    m = out["report"].metrics
    for variant in VARIANTS:
        for side in ("acc", "cloud_class_acc", "device_class_acc"):
            assert 0.0 <= m[f"{variant}_{side}"] <= 1.0, (variant, side)
    for key in NAMED:
        assert key in m, key
    assert m["rounds"] == 6 and m["seeds"] == PARAMS["seeds"]
    # the graph itself says no device sample goes up; the pooled bound would send them all
    data = params["data"]
    device_samples = 4 * data["train_per_class"] + 6 * round(
        data["device_cloud_class_share"] * data["train_per_class"])
    assert m["raw_samples_uplinked"] == 0 and m["large_models_downlinked"] == 0
    assert m["centralized_raw_samples_uplinked"] == device_samples == m["device_samples"]
    assert m["large_to_small_param_ratio"] >= 10
    assert m["uplink_bytes_per_round"] < m["downlink_bytes_per_round"] < m["large_submodel_bytes"]
    # known answers: the cloud never saw classes 6-9; the pooled model and the fusion did
    assert m["cloud_only_device_class_acc"] == 0.0
    assert m["centralized_acc"] > m["cloud_only_acc"]
    assert m["dc_ccl_device_class_acc"] > 0.0
    assert m["dc_ccl_acc"] > m["cloud_only_acc"]
    # the mimic imitates the large submodel well above chance on held-out cloud images
    assert m["mimic_top1_agreement"] > 0.5
    # accuracy per round of every variant trained in rounds, as curves with one step a round
    curves = out["report"].histories
    assert set(curves) == {"round_acc", "round_cloud_class_acc", "round_device_class_acc"}
    per_round = curves["round_acc"]
    assert per_round["step"].tolist() == list(range(1, 7))
    assert {"dc_ccl", "dc_ccl_hetero", "co_no_mimic", "device_only"} <= set(per_round.columns)
    assert per_round["dc_ccl"].iloc[-1] == m["dc_ccl_acc"]
    models = out["device_models"]
    assert set(models) == {"dc_ccl_co_submodel", "dc_ccl_mimic", "dc_ccl_hetero_co_submodel",
                           "dc_ccl_hetero_mimic"}
    for name, entry in models.items():
        assert not entry["module"].training, name
        with torch.no_grad():
            assert entry["module"](entry["example_input"]).shape == (1, 10), name
        assert entry["description"]
    large = out["mlflow_models"]["dc_ccl_large_submodel"]
    assert not large["module"].training and large["description"]
    with torch.no_grad():
        assert large["module"](large["example_input"]).shape == (1, 10)
    assert boundary_violations(create_pipeline()) == []
