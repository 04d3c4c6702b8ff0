"""Every pipeline of a ``kedro run`` leaves an MLflow run of its own, named after it."""

from __future__ import annotations

import mlflow
import pytest

from conftest import kedro

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_pipeline_run(tmp_path_factory):
    from conftest import copy_project

    project = copy_project(tmp_path_factory.mktemp("runs") / "project")
    result = kedro(project, "run", "--pipelines", "ingest,mqdialog", "--env", "test")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("dcpipelines")
    runs = client.search_runs([experiment.experiment_id])
    return project, client, experiment, {run.info.run_name: run for run in runs}


def test_one_run_per_pipeline_with_disjoint_metrics(two_pipeline_run):
    _, _, _, runs = two_pipeline_run
    assert sorted(runs) == ["ingest", "mqdialog"]
    ingest, mqdialog = runs["ingest"].data, runs["mqdialog"].data
    assert ingest.metrics and mqdialog.metrics
    assert not set(ingest.metrics) & set(mqdialog.metrics)
    assert all(key.startswith("mqdialog.") for key in mqdialog.params), mqdialog.params
    assert all(key.startswith("ingest.") for key in ingest.params), ingest.params


def test_runs_are_tagged_finished_and_linked(two_pipeline_run):
    _, _, _, runs = two_pipeline_run
    for name, run in runs.items():
        assert run.info.status == "FINISHED"
        assert run.data.tags["pipeline"] == name
        assert run.data.tags["kedro_command"] == f"kedro run --pipelines {name} --env test"
        assert run.data.tags["git_commit"]
    assert runs["ingest"].data.tags["kedro_session"] == runs["mqdialog"].data.tags["kedro_session"]


def test_experiment_is_a_model_training_experiment(two_pipeline_run):
    _, _, experiment, _ = two_pipeline_run
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
