"""The walle pipeline end to end on tiny parameters, with an in-memory catalog."""

import subprocess
import sys
from pathlib import Path

from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from conftest import planted_image_set
from dcpipelines.config import load_parameters
from dcpipelines.core.data import load_digits_table
from dcpipelines.core.reporting import Report
from dcpipelines.datasets import AtomicParquetDataset
from dcpipelines.pipelines.boundary import boundary_violations
from dcpipelines.pipelines.walle import create_pipeline

ROOT = Path(__file__).resolve().parents[3]
STRATEGIES = ("push", "pull", "push_then_pull")
ISSUE_METRICS = {
    "mnn_latency_ms", "torch_latency_ms", "onnxruntime_latency_ms", "mnn_max_abs_err",
    "concurrent_speedup", "concurrent_speedup_threads", "concurrent_speedup_processes",
    "stream_events_per_s", "fleet_size",
    *(f"{s}_p99_delivery_s_n{n}" for s in STRATEGIES for n in ("1e4", "1e5")),
    *(f"{s}_failure_rate_n1e5" for s in STRATEGIES),
    *(f"{s}_peak_{c}_utilisation" for s in STRATEGIES
      for c in ("fanout", "push_gateway", "poll_service", "cdn_edge", "origin")),
}


def _params() -> dict:
    params = load_parameters("walle", env="test")
    params["stream"]["generator"]["users"] = 30
    return params


def test_walle_runs_end_to_end_and_reports_the_issue_metrics(tmp_path):
    catalog = DataCatalog({
        "digits": MemoryDataset(load_digits_table()),
        "cifar10_images": MemoryDataset(planted_image_set(2)),
        "walle.uploaded_features": AtomicParquetDataset(str(tmp_path / "features.parquet")),
    })
    for key, value in _params().items():
        catalog[f"params:walle.{key}"] = value
    outputs = SequentialRunner().run(create_pipeline(), catalog)
    report = outputs["walle.report"]
    report = report.load() if hasattr(report, "load") else report
    assert isinstance(report, Report)
    assert set(report.metrics) >= ISSUE_METRICS
    assert report.metrics["fleet_size"] == 100_000
    _assert_the_release_simulation_separates_the_strategies(report)
    assert report.metrics["mnn_max_abs_err"] <= 1e-4
    assert report.claims[0].holds is True
    features = catalog.load("walle.uploaded_features")
    # what is uploaded is feature rows only, never the raw events' item ids or pages
    assert {"item_id", "page", "event"}.isdisjoint(features.columns)
    assert len(features) > 0
    assert {"runtime_latency", "deployment", "release_sweeps"} <= set(report.figures)
    loss = report.histories["edge_model_loss"]
    assert list(loss["step"]) == [1, 2] and loss["train_loss"].iloc[1] < loss["train_loss"].iloc[0]
    handed = outputs["walle.device_models"]
    handed = handed.load() if hasattr(handed, "load") else handed
    assert handed["walle_digits_cnn"]["trained"] and not handed["walle_image_cnn32"]["trained"]
    assert handed["walle_digits_cnn"]["quality"]["accuracy"] == report.metrics["edge_model_accuracy"]
    assert handed["walle_image_cnn32"]["example_input"].abs().sum() > 0  # a real image, not zeros


def _assert_the_release_simulation_separates_the_strategies(report: Report) -> None:
    """conf/test scales every capacity down 10-fold: 10^5 devices load it like 10^6 in base."""
    m = report.metrics
    # the bundle over the push gateway: far beyond its capacity, devices give up
    assert m["push_peak_push_gateway_utilisation"] > 5
    assert m["push_failure_rate_n1e5"] > 0.01
    # the notification costs the gateway little; the pulls that follow load the CDN instead
    assert m["push_then_pull_peak_push_gateway_utilisation"] < 1
    assert m["push_then_pull_peak_cdn_edge_utilisation"] > m["pull_peak_cdn_edge_utilisation"]
    assert m["push_then_pull_failure_rate_n1e5"] < m["push_failure_rate_n1e5"]
    # pull waits for the 30-minute poll: its p99 is far behind push-then-pull's
    assert m["pull_p99_delivery_s_n1e5"] > 10 * m["push_then_pull_p99_delivery_s_n1e5"]
    # a larger fleet never gets the task sooner
    assert m["push_then_pull_p99_delivery_s_n1e4"] <= m["push_then_pull_p99_delivery_s_n1e5"] * 1.5
    claims = {c.claim.split(" (")[0]: c for c in report.claims}
    assert claims["Push alone overloads the push gateway"].holds is True
    assert claims["Gray release with an automatic stop contains a faulty task in its first "
                  "stage and lets a healthy one through"].holds is True


def test_device_and_cloud_nodes_respect_the_boundary():
    pipeline = create_pipeline()
    assert boundary_violations(pipeline) == []
    tags = {node.name.split(".")[-1]: node.tags for node in pipeline.nodes}
    assert "device" in tags["extract_stream_features"] and "device" in tags["compare_runtimes"]
    assert "cloud" in tags["report_walle"]


def test_importing_the_pipeline_stays_light():
    code = ("import sys, dcpipelines.pipelines.walle.pipeline; "
            "heavy = {'torch', 'MNN', 'onnxruntime', 'transformers'} & set(sys.modules); "
            "print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
