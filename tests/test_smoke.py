"""Smoke tests: every registered pipeline runs end to end with the tiny ``test`` config,
twice, and the two runs agree on every metric that does not depend on the wall clock."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, TEST_ENV, copy_project
from dcpipelines.core.reporting import is_wall_clock_metric

pytestmark = pytest.mark.slow


def _registered_pipelines() -> list[str]:
    from kedro.framework.project import configure_project, pipelines

    configure_project("dcpipelines")
    return sorted(name for name in pipelines if name != "__default__")


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory) -> list[Path]:
    """Two copies of the project, each after a full ``kedro run --env test`` (run side by side)."""
    projects = [copy_project(tmp_path_factory.mktemp(f"smoke{i}") / "project") for i in (1, 2)]
    procs = [
        subprocess.Popen(
            [str(BIN / "kedro"), "run", "--env", "test"], cwd=project, env=TEST_ENV,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for project in projects
    ]
    for project, proc in zip(projects, procs, strict=True):
        output, _ = proc.communicate(timeout=1800)
        (project / "run.log").write_text(output)
        assert proc.returncode == 0, f"kedro run --env test failed:\n{output[-6000:]}"
    return projects


# conf/test/globals.yml sends every output of a test run under data/test/
TEST_DATA = Path("data") / "test"


def _metrics(project: Path, name: str) -> dict:
    path = project / TEST_DATA / "08_reporting" / name / "metrics.json"
    assert path.is_file(), f"pipeline {name} wrote no {path.relative_to(project)}"
    return json.loads(path.read_text())


@pytest.mark.parametrize("name", _registered_pipelines())
def test_every_pipeline_writes_its_report(smoke_runs, name):
    project = smoke_runs[0]
    metrics = _metrics(project, name)
    assert metrics, f"{name}: metrics.json is empty"
    assert all(isinstance(v, int | float) for v in metrics.values()), metrics
    report = (project / TEST_DATA / "08_reporting" / name / "report.md").read_text()
    assert report.startswith("# "), report[:200]


@pytest.mark.parametrize("name", _registered_pipelines())
def test_same_seed_same_metrics(smoke_runs, name):
    first, second = (_metrics(project, name) for project in smoke_runs)
    assert first.keys() == second.keys()
    differing = {
        key: (first[key], second[key])
        for key in first
        if not is_wall_clock_metric(key) and first[key] != second[key]
    }
    assert not differing, f"{name}: same seed, different metrics: {differing}"


def test_runs_are_tracked_in_mlflow(smoke_runs):
    """A bare ``kedro run`` leaves one finished run per pipeline, with that pipeline's metrics."""
    database = smoke_runs[0] / "mlflow.db"
    assert database.is_file(), "no local MLflow store was created"
    with sqlite3.connect(database) as db:
        runs = dict(db.execute("select name, run_uuid from runs").fetchall())
        statuses = {row[0] for row in db.execute("select status from runs")}
        pipeline_tags = dict(db.execute(
            "select run_uuid, value from tags where key = 'pipeline'").fetchall())
        ingest_keys = {row[0] for row in db.execute(
            "select key from metrics where run_uuid = ?", (runs.get("ingest"),))}
    assert sorted(runs) == _registered_pipelines()
    assert statuses == {"FINISHED"}
    assert {pipeline_tags[run_id] for run_id in runs.values()} == set(runs)
    assert set(_metrics(smoke_runs[0], "ingest")) <= ingest_keys


def test_test_runs_leave_full_run_outputs_alone(smoke_runs):
    written = [
        p.relative_to(smoke_runs[0]) for p in (smoke_runs[0] / "data").rglob("*")
        if p.is_file() and not p.is_relative_to(smoke_runs[0] / "data" / "01_raw")
        and not p.is_relative_to(smoke_runs[0] / TEST_DATA)
    ]
    assert written == [], f"a --env test run wrote outside {TEST_DATA}: {written[:5]}"
