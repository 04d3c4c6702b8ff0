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
    # ratios and errors computed from timings are machine-dependent too
    assert is_wall_clock_metric("concurrent_speedup_processes")
    assert is_wall_clock_metric("image_cnn32_mnn_vs_onnxruntime")
    assert is_wall_clock_metric("cost_model_host_mape_pct")
    assert is_wall_clock_metric("cost_model_host_mape_pct_handed")
    assert is_wall_clock_metric("cost_model_conv_efficiency_calibrated")
    assert not is_wall_clock_metric("walle_digits_cnn_accuracy")
    assert not is_wall_clock_metric("num_models_costed")


def test_history_table_pivots_rounds_per_series():
    from dcpipelines.core.reporting import history_table

    rounds = pd.DataFrame({"run": ["a", "a", "b", "b", "a"], "round": [1, 2, 1, 2, 3],
                           "metric": [0.1, 0.2, 0.3, np.nan, 0.4]})
    table = history_table(rounds, "round", "metric", series="run")
    assert list(table.columns) == ["step", "a", "b"]
    assert table["step"].tolist() == [1, 2, 3]
    assert table["a"].tolist() == [0.1, 0.2, 0.4]
    assert table["b"].iloc[0] == 0.3 and table["b"].iloc[1:].isna().all()


def test_loss_history_pads_series_of_different_lengths():
    from dcpipelines.core.reporting import loss_history

    table = loss_history(model=[3.0, 2.0, 1.0], other=[5.0], skipped=None)
    assert list(table.columns) == ["step", "model", "other"]
    assert table["step"].tolist() == [1, 2, 3]
    assert table["other"].isna().sum() == 2


def test_histories_are_written_in_long_form(tmp_path):
    import pandas as pd

    from dcpipelines.core.reporting import loss_history

    report = make_report()
    report.histories = {"train_loss": loss_history(a=[2.0, 1.0], b=[3.0])}
    out = write_report(report, tmp_path / "demo")
    written = pd.read_csv(out / "history" / "train_loss.csv")
    assert written.to_dict("list") == {"step": [1, 2, 1], "series": ["a", "a", "b"],
                                       "value": [2.0, 1.0, 3.0]}


def test_every_report_folder_has_plots_tables_and_history(tmp_path):
    out = write_report(Report("bare", "Bare", {"x": 1}), tmp_path / "bare")
    assert all((out / part).is_dir() for part in ("plots", "tables", "history"))


@pytest.mark.parametrize("table", [pd.DataFrame({"round": [1]}),
                                   pd.DataFrame({"step": [1], "a b": [1.0]}),
                                   pd.DataFrame({"step": [1], "a": ["text"]})])
def test_malformed_histories_are_refused(table):
    with pytest.raises((TypeError, ValueError)):
        Report("demo", "Demo", {"x": 1}, histories={"curve": table})

def test_peak_memory_is_machine_dependent_but_board_estimates_are_not():
    assert is_wall_clock_metric("ae_peak_rss_mb")
    assert not is_wall_clock_metric("ae_mnn_session_mb")
    assert not is_wall_clock_metric("ae_rpi4_latency_ms_est")
