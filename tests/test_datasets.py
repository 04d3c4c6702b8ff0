"""Catalog datasets: raw readers are read-only, tables and reports are written atomically,
reports reach the active MLflow run."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from kedro.io import DatasetError

from dcpipelines.core.reporting import Report
from dcpipelines.datasets import (
    AtomicParquetDataset,
    BinaryFileDataset,
    ClickLogDataset,
    ReportDataset,
)


def test_parquet_round_trip_and_failed_save_keeps_old_table(tmp_path):
    path = tmp_path / "t.parquet"
    dataset = AtomicParquetDataset(str(path))
    dataset.save(pd.DataFrame({"a": [1, 2]}))
    with pytest.raises(DatasetError):
        dataset.save(pd.DataFrame({"a": [object()]}))  # pyarrow cannot write this column
    assert dataset.load()["a"].tolist() == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_raw_datasets_are_read_only(tmp_path):
    with pytest.raises(DatasetError, match="read-only"):
        ClickLogDataset(str(tmp_path / "x.tsv")).save(pd.DataFrame())
    assert not ClickLogDataset(str(tmp_path / "x.tsv")).exists()


def test_report_dataset_writes_and_logs_to_the_active_run(tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        dataset = ReportDataset(str(tmp_path / "reports" / "demo"))
        with mlflow.start_run() as run:
            dataset.save(Report("demo", "Demo", {"auc": 0.75, "rounds": 4}))
        assert dataset.load() == {"auc": 0.75, "rounds": 4}
        logged = mlflow.get_run(run.info.run_id).data.metrics
        assert logged == {"auc": 0.75, "rounds": 4.0}
        artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "reports/demo")}
        assert {"reports/demo/metrics.json", "reports/demo/report.md"} <= artifacts
    finally:
        mlflow.set_tracking_uri(None)


def test_report_dataset_refuses_other_objects(tmp_path):
    with pytest.raises(DatasetError, match="expected a Report"):
        ReportDataset(str(tmp_path / "r")).save({"auc": 1.0})


def test_binary_file_round_trip_and_type_check(tmp_path):
    dataset = BinaryFileDataset(str(tmp_path / "m.mnn"))
    dataset.save(b"\x00model")
    assert dataset.load() == b"\x00model"
    with pytest.raises(DatasetError, match="expected bytes"):
        dataset.save("text")
    assert dataset.load() == b"\x00model"


def test_device_models_round_trip_one_file_per_model_and_a_folder_over_all(tmp_path):
    import torch

    from dcpipelines.core.nn.edge_models import DigitsMLP
    from dcpipelines.datasets import DeviceModelsDataset

    def entry(hidden):
        return {"module": DigitsMLP(hidden=hidden).eval(), "example_input": torch.zeros(1, 1, 8, 8),
                "description": f"mlp {hidden}"}

    first = DeviceModelsDataset(str(tmp_path / "device_models" / "first"))
    first.save({"first_a": entry(4), "first_b": entry(8)})
    assert sorted(p.name for p in (tmp_path / "device_models" / "first").iterdir()) == ["first_a.pt", "first_b.pt"]
    first.save({"first_a": entry(4)})  # a model no longer handed disappears
    DeviceModelsDataset(str(tmp_path / "device_models" / "second")).save({"second_c": entry(16)})
    every = DeviceModelsDataset(str(tmp_path / "device_models")).load()
    assert sorted(every) == ["first_a", "second_c"]
    x = torch.rand(1, 1, 8, 8)
    original = entry(16)["module"]
    assert every["second_c"]["description"] == "mlp 16"
    assert every["second_c"]["module"](x).shape == original(x).shape
    assert DeviceModelsDataset(str(tmp_path / "missing")).load() == {}
    with pytest.raises(DatasetError, match="identifier"):
        first.save({"not valid": entry(4)})
    DeviceModelsDataset(str(tmp_path / "device_models" / "third")).save({"first_a": entry(4)})
    with pytest.raises(DatasetError, match="two handed models"):
        DeviceModelsDataset(str(tmp_path / "device_models")).load()
