"""The on_device pipeline on two registered models, with an in-memory catalog."""

import torch
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from dcpipelines.core.devices.edge_models import DigitsMLP
from dcpipelines.core.devices.profiles import PROFILES
from dcpipelines.core.devices.registry import register_device_model
from dcpipelines.core.reporting import render_markdown
from dcpipelines.pipelines.on_device import create_pipeline


def test_on_device_profiles_a_model_another_pipeline_registered():
    register_device_model("wide_mlp_from_elsewhere", lambda: DigitsMLP(hidden=256).eval(),
                          torch.zeros(1, 1, 8, 8), "registered by another pipeline")
    catalog = DataCatalog()
    catalog["params:on_device.models"] = ["digits_cnn", "wide_mlp_from_elsewhere"]
    catalog["params:on_device.latency"] = {"rounds": 1, "repeats": 3, "warmup": 1}
    outputs = SequentialRunner().run(create_pipeline(), catalog)
    report = outputs["on_device.report"]
    report = report.load() if hasattr(report, "load") else report
    table = report.tables["device_costs"]
    assert len(table) == 2 * len(PROFILES)
    assert set(table["profile"]) == set(PROFILES)
    metrics = report.metrics
    assert metrics["wide_mlp_from_elsewhere_params"] > metrics["digits_cnn_params"]
    assert metrics["wide_mlp_from_elsewhere_mnn_bytes"] > 4 * metrics["wide_mlp_from_elsewhere_params"]
    assert report.claims[0].holds is True
    lines = render_markdown(report).splitlines()
    assert any("wide_mlp_from_elsewhere" in line and "raspberry_pi_4" in line for line in lines)
    assert "estimated_latency" in report.figures
