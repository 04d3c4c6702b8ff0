"""The fedsubavg pipeline on small hand-made tables, through an in-memory catalog."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from dcpipelines.config import load_parameters
from dcpipelines.core.data.errors import DataValidationError
from dcpipelines.pipelines.fedsubavg import create_pipeline, nodes, report

ROOT = Path(__file__).resolve().parents[3]
PARAMS = load_parameters("fedsubavg", env="test")
REQUIRED = ["fedavg_final_metric", "fedsubavg_final_metric", "fedprox_final_metric",
            "target_metric", "fedavg_rounds_to_target", "fedsubavg_rounds_to_target",
            "num_clients", "num_rounds", "row_density"]


def click_log(users=30, per_user=8, seed=0) -> pd.DataFrame:
    """Users click a few hot items and their own cold items."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(1, users + 1):
        clicked: list[int] = []
        for position in range(per_user):
            item = int(rng.choice([1, 2, 3, 100 + user]))
            rows.append({"label": int(rng.integers(0, 2)), "user_id": user,
                         "position": position, "item_id": item,
                         "history": ",".join(map(str, clicked)),
                         "history_length": len(clicked)})
            clicked.append(item)
    return pd.DataFrame(rows)


def script_turns() -> pd.DataFrame:
    words = ["the", "king", "is", "dead", "long", "live", "the", "queen", "and", "all", "her", "court"]
    rows = []
    for i in range(200):
        speaker = ["KING", "QUEEN", "FOOL"][i % 3]
        text = " ".join(words[(i + j) % len(words)] for j in range(6)) + "."
        rows.append({"source": "tinyshakespeare", "language": "en", "dialogue_id": 0,
                     "turn_id": i, "speaker": speaker, "text": text, "line": i + 1})
    return pd.DataFrame(rows)


def _params():
    params = {**PARAMS, "click_data": {**PARAMS["click_data"], "num_users": None}}
    params["script_data"] = {**PARAMS["script_data"], "min_lines": 20}
    return params


def _run(clicks):
    catalog = DataCatalog({
        "click_log": MemoryDataset(clicks),
        "script_turns": MemoryDataset(script_turns()),
        **{f"params:fedsubavg.{k}": MemoryDataset(v) for k, v in _params().items()},
    })
    return SequentialRunner().run(create_pipeline(), catalog)


def test_pipeline_reports_every_required_metric():
    report = _run(click_log())["fedsubavg.report"].load()
    for key in REQUIRED:
        assert key in report.metrics, key
    assert report.metrics["num_clients"] == 30
    assert report.metrics["num_rounds"] == PARAMS["click_training"]["rounds"]
    # a user involves padding + hot items 1..3 + its own item (+ none else) of 131 rows
    assert 0 < report.metrics["row_density"] <= 4 / 130
    assert 0.0 <= report.metrics["fedsubavg_final_metric"] <= 1.0
    assert report.metrics["dropout_clients_dropped"] == PARAMS["click_training"]["rounds"] * 6
    assert set(report.figures) == {"amazon_auc_vs_rounds", "amazon_update_norm",
                                   "shakespeare_accuracy_vs_rounds"}


def test_same_seed_gives_the_same_metrics():
    a = _run(click_log())["fedsubavg.report"].load().metrics
    b = _run(click_log())["fedsubavg.report"].load().metrics
    assert {k: v for k, v in a.items() if not k.endswith("_per_s")} == {
        k: v for k, v in b.items() if not k.endswith("_per_s")}


def test_click_log_without_history_is_rejected_with_the_fix():
    with pytest.raises(DataValidationError, match="click_log.*history.*ingest"):
        nodes.click_clients(click_log().drop(columns=["history"]), PARAMS["click_data"], 0)


def test_rounds_to_target_is_minus_one_when_never_reached():
    rounds = pd.DataFrame({"run": ["fedavg"] * 2 + ["fedsubavg"] * 2, "round": [1, 2, 1, 2],
                           "metric": [0.5, 0.6, 0.4, 0.45]})
    summary = pd.DataFrame({"run": ["fedavg", "fedsubavg"], "best_metric": [0.6, 0.45],
                            "final_metric": [0.6, 0.45]})
    metrics = report._run_metrics(summary, rounds)
    assert metrics["fedavg_rounds_to_target"] == 2
    assert metrics["fedsubavg_rounds_to_target"] == -1
    assert metrics["target_metric"] == pytest.approx(0.594)
