import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from dcpipelines.core.reporting import Claim, Report, is_wall_clock_metric, write_report


def make_report(value=0.5):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, value])
    return Report(
        "demo", "Demo", {"auc": np.float64(value), "rounds": 3},
        [Claim("A beats B", f"{value}", value > 0.4)], {"curve": fig},
        {"Table": pd.DataFrame({"a": [1]})},
    )


def test_writes_metrics_markdown_plots_tables(tmp_path):
    out = write_report(make_report(), tmp_path / "demo")
    assert json.loads((out / "metrics.json").read_text()) == {"auc": 0.5, "rounds": 3}
    markdown = (out / "report.md").read_text()
    assert "| A beats B | 0.5 | holds |" in markdown
    assert "![curve](plots/curve.png)" in markdown
    assert (out / "plots" / "curve.png").stat().st_size > 1000
    assert (out / "tables" / "Table.csv").is_file()


def test_failed_write_keeps_previous_report(tmp_path):
    target = write_report(make_report(0.7), tmp_path / "demo")
    broken = make_report(0.9)
    broken.figures = {"bad": object()}  # has no savefig: the write fails half-way
    with pytest.raises(AttributeError):
        write_report(broken, target)
    assert json.loads((target / "metrics.json").read_text())["auc"] == 0.7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]  # no staging left over


@pytest.mark.parametrize("bad", [{"x": "text"}, {"x": float("nan")}, {"x": [1, 2]}])
def test_metrics_must_be_flat_finite_numbers(bad):
    with pytest.raises((TypeError, ValueError)):
        Report("demo", "Demo", bad)


def test_wall_clock_metric_names():
    assert is_wall_clock_metric("mnn_latency_ms") and is_wall_clock_metric("stream_events_per_s")
    assert is_wall_clock_metric("routing_ms_per_prompt")
    assert is_wall_clock_metric("inference_overhead_pct")
    assert not is_wall_clock_metric("fedavg_final_metric")
