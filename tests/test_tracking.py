"""Runs can be compared from the MLflow store, by the CLI and by the notebook's code."""

from __future__ import annotations

import json

import mlflow
import nbformat
import pytest

from conftest import ROOT
from dcpipelines.tracking import main, runs_table


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("dcpipelines")
    for value in (0.6, 0.7):
        with mlflow.start_run(run_name="demo"):
            mlflow.set_tags({"pipeline": "demo", "git_commit": "abc123"})
            mlflow.log_metric("auc", value)
    with mlflow.start_run(run_name="other"):
        mlflow.set_tags({"pipeline": "other"})
        mlflow.log_metric("rows", 3)
    yield uri
    mlflow.set_tracking_uri(None)


def test_runs_table_filters_by_pipeline(store):
    table = runs_table(store, pipeline="demo")
    assert table["pipeline"].tolist() == ["demo", "demo"]
    assert sorted(table["auc"]) == [0.6, 0.7]
    assert len(runs_table(store)) == 3


def test_cli_prints_runs(store, capsys):
    assert main(["--tracking-uri", store, "--pipeline", "other"]) == 0
    assert "rows" in capsys.readouterr().out


def test_notebook_code_runs_against_a_store(store):
    notebook = nbformat.read(ROOT / "notebooks" / "compare_runs.ipynb", as_version=4)
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    code = code.replace('"sqlite:///mlflow.db"', json.dumps(store)).replace('"ingest"', '"demo"')
    namespace: dict = {}
    exec(compile(code, "compare_runs.ipynb", "exec"), namespace)  # noqa: S102
    assert namespace["metric"] == "auc"
    assert namespace["fig"].axes[0].get_title() == "demo: auc per run"
