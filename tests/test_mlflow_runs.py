"""What a test-size ``kedro run --pipelines ingest,fedsubavg`` leaves for MLflow and DVC users:
one MLflow run per pipeline, named after it, with per-round curves as metric histories, and
curves that ``dvc plots show`` draws."""

from __future__ import annotations

import json
import shutil
import subprocess

import mlflow
import pytest

from conftest import BIN, ROOT, TEST_ENV, kedro

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_pipeline_run(tmp_path_factory):
    from conftest import copy_project

    project = copy_project(tmp_path_factory.mktemp("runs") / "project")
    result = kedro(project, "run", "--pipelines", "ingest,fedsubavg", "--env", "test")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("dcpipelines")
    runs = client.search_runs([experiment.experiment_id])
    return project, client, experiment, {run.info.run_name: run for run in runs}


def test_one_run_per_pipeline_with_disjoint_metrics(two_pipeline_run):
    _, _, _, runs = two_pipeline_run
    assert sorted(runs) == ["fedsubavg", "ingest"]
    ingest, fedsubavg = runs["ingest"].data, runs["fedsubavg"].data
    assert ingest.metrics and fedsubavg.metrics
    assert not set(ingest.metrics) & set(fedsubavg.metrics)
    assert all(key.startswith("fedsubavg.") for key in fedsubavg.params), fedsubavg.params
    assert all(key.startswith("ingest.") for key in ingest.params), ingest.params


def test_runs_are_tagged_finished_and_linked(two_pipeline_run):
    _, _, _, runs = two_pipeline_run
    for name, run in runs.items():
        assert run.info.status == "FINISHED"
        assert run.data.tags["pipeline"] == name
        assert run.data.tags["kedro_command"] == f"kedro run --pipelines {name} --env test"
        assert run.data.tags["git_commit"]
    assert runs["ingest"].data.tags["kedro_session"] == runs["fedsubavg"].data.tags["kedro_session"]


def test_experiment_is_a_model_training_experiment(two_pipeline_run):
    _, _, experiment, _ = two_pipeline_run
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_per_round_curves_are_metric_histories(two_pipeline_run):
    _, client, _, runs = two_pipeline_run
    run = runs["fedsubavg"]
    for strategy in ["fedavg", "fedsubavg"]:
        history = client.get_metric_history(run.info.run_id, f"amazon_auc/{strategy}")
        steps = [point.step for point in history]
        assert len(steps) > 1 and steps == sorted(steps) and steps[0] >= 1, steps
        assert all(0 <= point.value <= 1 for point in history)


def test_dvc_plots_show_draws_the_curves(two_pipeline_run):
    project = two_pipeline_run[0]
    # dvc.yaml names the full-size report folders: point them at this test-size run
    (project / "data" / "08_reporting").rmdir()
    (project / "data" / "08_reporting").symlink_to(project / "data" / "test" / "08_reporting")
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    for name in [".dvc", ".dvcignore"]:
        source = ROOT / name
        copy = shutil.copytree if source.is_dir() else shutil.copy2
        copy(source, project / name, **({"ignore": shutil.ignore_patterns(
            "cache", "tmp", "config.local")} if source.is_dir() else {}))
    result = subprocess.run(
        [str(BIN / "dvc"), "plots", "show", "--json", "data/08_reporting/fedsubavg/history"],
        cwd=project, env=TEST_ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    plots = json.loads(result.stdout)["data"]["data/08_reporting/fedsubavg/history/amazon_auc.csv"]
    points = plots[0]["content"]["data"]["values"]
    assert {point["series"] for point in points} >= {"fedavg", "fedsubavg"}
    assert sorted({int(point["step"]) for point in points}) == sorted(
        {int(point["step"]) for point in points if point["series"] == "fedavg"})
    assert plots[0]["content"]["encoding"]["color"]["field"] == "series"
    html = subprocess.run(
        [str(BIN / "dvc"), "plots", "show", "-o", "dvc_plots"], cwd=project, env=TEST_ENV,
        capture_output=True, text=True, timeout=300)
    assert html.returncode == 0, html.stderr[-2000:]
    page = (project / "dvc_plots" / "index.html").read_text()
    assert "amazon_auc.csv" in page and "shakespeare_accuracy.csv" in page
