"""The mqdialog pipeline on a small hand-made turns table, through an in-memory catalog."""

import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from dcpipelines.core.reporting import Report
from dcpipelines.datasets import AtomicParquetDataset
from dcpipelines.pipelines.mqdialog import create_pipeline

PARAMS = {
    "seed": 0,
    "pairs": {"episode_turns": 4, "excluded_speakers": ["X"]},
    "selection": {"min_pairs_per_questioner": 4, "min_questioners": 2,
                  "max_responders_per_source": 2, "max_questioners_per_responder": 5,
                  "min_train_pairs": 2},
    "split": {"train": 0.6, "val": 0.2, "test": 0.2},
}


def script_turns() -> pd.DataFrame:
    """Responder R talks with A and B in alternating episodes; X never counts."""
    rows = []
    for episode in range(30):
        other = "AB"[episode % 2]
        for k, speaker in enumerate([other, "R", other, "R"]):
            rows.append({"source": "play", "language": "en", "dialogue_id": 0,
                         "turn_id": len(rows), "speaker": speaker,
                         "text": f"{speaker} says {episode}-{k}", "line": len(rows) + 1})
    return pd.DataFrame(rows)


def test_pipeline_builds_split_pairs_and_report(tmp_path):
    catalog = DataCatalog({
        "script_turns": MemoryDataset(script_turns()),
        "mqdialog_pairs": AtomicParquetDataset(str(tmp_path / "pairs.parquet")),
        **{f"params:mqdialog.{k}": MemoryDataset(v) for k, v in PARAMS.items()},
    })
    outputs = SequentialRunner().run(create_pipeline(), catalog)
    pairs = catalog.load("mqdialog_pairs")
    assert set(pairs["responder"]) == {"R"}  # A and B answer R too, but have one questioner each
    assert set(pairs["questioner"]) == {"A", "B"}
    assert (pairs.groupby("episode")["split"].nunique() == 1).all()
    report = outputs["mqdialog.report"].load()
    assert isinstance(report, Report)
    assert report.metrics["num_responders"] == 1 and report.metrics["num_questioners"] == 2
    assert report.metrics["num_pairs"] == len(pairs)
    # each episode (other, R, other, R) gives three consecutive pairs, two of them answered by R;
    # no pair spans two episodes
    assert report.metrics["num_candidate_pairs"] == 30 * 3
    assert len(pairs) == 30 * 2 and report.metrics["num_episodes"] == 30
    assert (pairs.groupby("questioner").size() == 30).all()
    split_sizes = pairs.groupby("split")["episode"].nunique()
    assert split_sizes["train"] > split_sizes["val"] > 0 and split_sizes["test"] > 0
    assert all(claim.holds is not False for claim in report.claims)
