"""The fed_influence pipeline on the real digits table, shrunk, through an in-memory catalog."""

from pathlib import Path

from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from dcpipelines.config import load_parameters
from dcpipelines.core.data import load_digits_table
from dcpipelines.pipelines.fed_influence import create_pipeline

ROOT = Path(__file__).resolve().parents[3]
PARAMS = load_parameters("fed_influence", env="test")
REQUIRED = ["convex_spearman", "convex_pearson", "nonconvex_spearman", "nonconvex_pearson",
            "debug_precision_at_k", "k", "estimation_overhead_ratio"]


def test_pipeline_reports_influence_against_leave_one_out():
    catalog = DataCatalog({
        "digits": MemoryDataset(load_digits_table()),
        **{f"params:fed_influence.{k}": MemoryDataset(v) for k, v in PARAMS.items()},
    })
    outputs = SequentialRunner().run(create_pipeline(), catalog)
    report = outputs["fed_influence.report"].load()
    for key in REQUIRED:
        assert key in report.metrics, key
    assert report.metrics["k"] == PARAMS["debugging"]["k"]
    assert report.metrics["num_clients"] == PARAMS["split"]["num_clients"]
    for key in REQUIRED[:4]:
        assert -1.0 <= report.metrics[key] <= 1.0
    # the estimator tracks leave-one-out closely even on this short run
    assert report.metrics["convex_spearman"] > 0.8
    ranking = report.tables["debug_ranking"]
    assert ranking["corrupted"].sum() == PARAMS["debugging"]["k"]
    assert len(ranking) == PARAMS["split"]["num_clients"]
