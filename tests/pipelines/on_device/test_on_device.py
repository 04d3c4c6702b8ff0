"""The on_device pipeline on models handed over through the catalog, with an in-memory catalog."""

import pytest
import torch
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from dcpipelines.core.devices.models import hand_off
from dcpipelines.core.devices.profiles import PROFILES
from dcpipelines.core.nn.edge_models import DigitsMLP, reference_edge_models
from dcpipelines.core.reporting import render_markdown
from dcpipelines.datasets import DeviceModelsDataset
from dcpipelines.pipelines.on_device import create_pipeline


def _run(catalog: DataCatalog, models="all", handed: list[str] | None = None):
    catalog["params:on_device.models"] = models
    catalog["params:on_device.calibration_variants"] = "all"
    catalog["params:on_device.latency"] = {"rounds": 1, "repeats": 3, "warmup": 1}
    outputs = SequentialRunner().run(create_pipeline(handed=handed), catalog)
    report = outputs["on_device.report"]
    return report.load() if hasattr(report, "load") else report


def test_on_device_profiles_the_models_pipelines_handed_over(tmp_path):
    root = tmp_path / "device_models"
    elsewhere = {"wide_mlp": {"module": DigitsMLP(hidden=256).eval(), "example_input": torch.zeros(1, 1, 8, 8),
                              "description": "handed by another pipeline"}}
    DeviceModelsDataset(str(root / "elsewhere")).save(hand_off("elsewhere", elsewhere))
    DeviceModelsDataset(str(root / "walle")).save(hand_off("walle", reference_edge_models()))
    catalog = DataCatalog({"device_models": DeviceModelsDataset(str(root))})
    report = _run(catalog, ["walle_digits_cnn", "elsewhere_wide_mlp"])
    table = report.tables["device_costs"]
    assert len(table) == 2 * len(PROFILES)
    assert set(table["profile"]) == set(PROFILES)
    metrics = report.metrics
    assert metrics["elsewhere_wide_mlp_params"] > metrics["walle_digits_cnn_params"]
    assert metrics["elsewhere_wide_mlp_mnn_bytes"] > 4 * metrics["elsewhere_wide_mlp_params"]
    assert report.claims[0].holds is True
    lines = render_markdown(report).splitlines()
    assert any("elsewhere_wide_mlp" in line and "raspberry_pi_4" in line for line in lines)
    assert "estimated_latency" in report.figures
    with pytest.raises(ValueError, match="no handed model named"):
        _run(DataCatalog({"device_models": DeviceModelsDataset(str(root))}), ["nope"])


def test_with_nothing_handed_walle_reference_models_stand_in(tmp_path):
    catalog = DataCatalog({"device_models": DeviceModelsDataset(str(tmp_path / "empty"))})
    report = _run(catalog, ["walle_digits_mlp"])
    assert report.metrics["models_profiled"] == 1
    assert report.metrics["walle_digits_mlp_params"] == sum(p.numel() for p in DigitsMLP().parameters())


def test_a_full_run_measures_after_every_hand_off():
    pipeline = create_pipeline(handed=["walle.device_models", "route_t2i.device_models"])
    measure = next(n for n in pipeline.nodes if n.name == "on_device.measure_device_models")
    assert {"device_models", "walle.device_models", "route_t2i.device_models"} <= set(measure.inputs)
    handed = {"walle_tiny": {"module": DigitsMLP(hidden=4).eval(), "example_input": torch.zeros(1, 1, 8, 8),
                             "description": "tiny"}}
    catalog = DataCatalog({"device_models": MemoryDataset(handed, copy_mode="assign"),
                           "walle.device_models": MemoryDataset({}), "route_t2i.device_models": MemoryDataset({})})
    catalog["params:on_device.models"] = "all"
    catalog["params:on_device.calibration_variants"] = ["mlp_h16", "cnn8_c4"]
    catalog["params:on_device.latency"] = {"rounds": 1, "repeats": 2, "warmup": 1}
    outputs = SequentialRunner().run(pipeline, catalog)
    report = outputs["on_device.report"]
    report = report.load() if hasattr(report, "load") else report
    # the handed model, and walle's registered models that nobody handed (seeded weights)
    assert report.metrics["num_models_costed"] == 5 and "walle_tiny_flops" in report.metrics
    assert report.metrics["num_models_trained"] == 1


def test_a_trained_handed_model_is_costed_with_its_accuracy_in_one_table(tmp_path):
    """A pipeline hands a small trained model with its held-out accuracy; on_device costs it
    next to the seeded stand-ins, calibrates the cost model and reports the held-out error."""
    root = tmp_path / "device_models"
    torch.manual_seed(0)
    handed = {"digits_cnn": {"module": DigitsMLP(hidden=8).eval(),
                             "example_input": torch.rand(1, 1, 8, 8),
                             "description": "a small trained model", "trained": True,
                             "quality": {"accuracy": 0.875}}}
    DeviceModelsDataset(str(root / "walle")).save(hand_off("walle", handed))
    report = _run(DataCatalog({"device_models": DeviceModelsDataset(str(root))}))
    metrics, table = report.metrics, report.tables["device_costs"]
    assert metrics["num_models_costed"] == 4  # the handed one replaces walle's seeded digits_cnn
    assert metrics["walle_digits_cnn_params"] == sum(p.numel() for p in DigitsMLP(hidden=8).parameters())
    assert metrics["walle_digits_cnn_accuracy"] == 0.875 and metrics["num_models_trained"] == 1
    rows = table[table["model"] == "walle_digits_cnn"]
    assert len(rows) == len(PROFILES) and rows["trained"].all()
    assert (rows["quality_accuracy"] == 0.875).all()
    assert not table[table["model"] == "walle_image_cnn32"]["trained"].any()
    assert table["quality_accuracy"].isna().sum() == 3 * len(PROFILES)
    # the held-out error is the mean of the per-model errors of the calibration table
    calibration = report.tables["cost_calibration"]
    assert len(calibration) > 8 and set(calibration["role"]) == {"handed", "calibration"}
    errors = 100 * (calibration["held_out_ms"] / calibration["measured_ms"] - 1).abs()
    assert metrics["cost_model_host_mape_pct"] == pytest.approx(errors.mean())
    assert metrics["cost_model_host_fit_mape_pct"] <= metrics["cost_model_host_mape_pct"] + 1e-9
    assert 0 < metrics["cost_model_conv_efficiency_calibrated"] <= 1
    # a CPU board with the calibrated model: the 16-MFLOP image model costs more than the MLP
    pi = table[table["profile"] == "raspberry_pi_4"].set_index("model")["est_latency_ms"]
    assert pi["walle_image_cnn32"] > 10 * pi["walle_digits_mlp"]
    assert {"walle_digits_cnn_mnn_vs_onnxruntime", "walle_image_cnn32_mnn_vs_torch"} <= set(metrics)
