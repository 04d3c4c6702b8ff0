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


def test_exported_model_files_are_artifacts_of_the_active_run(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        with mlflow.start_run() as run:
            BinaryFileDataset(str(tmp_path / "m.onnx")).save(b"\x00onnx")
        listed = mlflow.MlflowClient().list_artifacts(run.info.run_id, "exported_models")
        assert [entry.path for entry in listed] == ["exported_models/m.onnx"]
    finally:
        mlflow.set_tracking_uri(None)


def test_report_histories_become_metric_histories(tmp_path, monkeypatch):
    import mlflow

    from dcpipelines.core.reporting import Report, loss_history

    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        with mlflow.start_run() as run:
            ReportDataset(str(tmp_path / "r")).save(Report(
                "demo", "Demo", {"auc": 0.5},
                histories={"train_loss": loss_history(model=[3.0, 2.0, 1.5])}))
        history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "train_loss/model")
        assert [(point.step, point.value) for point in history] == [(1, 3.0), (2, 2.0), (3, 1.5)]
    finally:
        mlflow.set_tracking_uri(None)


def test_datasets_take_their_kedro_viz_layer_from_the_data_folder(tmp_path):
    from dcpipelines.datasets import AtomicParquetDataset, ScriptDataset

    assert ReportDataset("data/08_reporting/x").metadata == {"kedro-viz": {"layer": "reporting"}}
    assert ScriptDataset("data/01_raw/a.txt").metadata["kedro-viz"]["layer"] == "raw"
    test_size = AtomicParquetDataset("data/test/03_primary/t.parquet", metadata={"owner": "me"})
    assert test_size.metadata == {"owner": "me", "kedro-viz": {"layer": "primary"}}
    chosen = AtomicParquetDataset("data/06_models/m.parquet",
                                  metadata={"kedro-viz": {"layer": "feature"}})
    assert chosen.metadata["kedro-viz"]["layer"] == "feature"
    assert AtomicParquetDataset(str(tmp_path / "t.parquet")).metadata is None
