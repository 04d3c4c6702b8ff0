"""The tools a user reaches for around the pipelines: the Kedro CLI, kedro-viz and DVC."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import yaml
from kedro.framework.project import configure_project, pipelines

from conftest import BIN, ROOT, TEST_ENV, kedro

configure_project("dcpipelines")
NAMES = sorted(name for name in pipelines if name != "__default__")
HEAVY_MODULES = ["torch", "transformers", "sentence_transformers", "flwr", "ray", "MNN", "onnxruntime"]


def test_registry_list_names_every_pipeline(project_copy):
    result = kedro(project_copy, "registry", "list")
    assert result.returncode == 0, result.stderr
    for name in [*NAMES, "__default__"]:
        assert f"- {name}" in result.stdout


def test_registering_pipelines_imports_no_heavy_library():
    code = (
        "import sys; from kedro.framework.project import configure_project, pipelines; "
        "configure_project('dcpipelines'); dict(pipelines); "
        f"print('HEAVY=' + ','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=TEST_ENV)
    assert result.returncode == 0, result.stderr
    heavy = result.stdout.rsplit("HEAVY=", 1)[1].strip()
    assert heavy == "", f"imported at start-up: {heavy}"


@pytest.mark.slow
def test_kedro_viz_build_writes_a_static_site(project_copy):
    result = kedro(project_copy, "viz", "build", timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (project_copy / "build" / "index.html").is_file()
    graph = json.loads((project_copy / "build" / "api" / "main").read_text())
    node_names = {node["name"] for node in graph["nodes"]}
    assert "report_ingest" in " ".join(node_names)
    # datasets are drawn in the Kedro data layers, in order (raw first, reports last)
    assert graph["layers"][0] == "raw" and graph["layers"][-1] == "reporting"
    assert {"primary", "model_output"} <= set(graph["layers"])
    layers = {node["id"]: node.get("layer") for node in graph["nodes"] if node["type"] == "data"}
    by_name = {node["name"]: layers[node["id"]] for node in graph["nodes"] if node["id"] in layers}
    assert by_name["raw_click_log"] == "raw" and by_name["click_log"] == "primary"
    reports = [layer for name, layer in by_name.items() if name.endswith("report")]
    assert reports and set(reports) == {"reporting"}
    assert {"device", "cloud"} <= {tag["id"] for tag in graph["tags"]}


def _dvc_stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _outs(stage: dict) -> set[str]:
    return {next(iter(out)) if isinstance(out, dict) else out for out in stage.get("outs", [])}


@pytest.mark.parametrize("name", NAMES)
def test_dvc_has_one_stage_per_pipeline(name):
    stages = _dvc_stages()
    stage = stages[name]
    assert stage["cmd"] == f"kedro run --pipelines {name}"
    assert {"src/dcpipelines/pipelines/" + name} <= set(stage["deps"])
    produced = set().union(*(_outs(other) for other in stages.values()))
    for dep in stage["deps"]:
        assert (ROOT / dep).exists() or dep in produced, (
            f"dvc stage {name}: dependency {dep} neither exists nor is made by a stage"
        )
    params = [next(iter(entry)) for entry in stage["params"]]
    assert params == [f"conf/base/parameters_{name}.yml", "conf/base/globals.yml"]
    metrics = [next(iter(entry)) for entry in stage["metrics"]]
    assert metrics == [f"data/08_reporting/{name}/metrics.json"]


@pytest.mark.slow
def test_dvc_repro_reproduces_ingest_and_shows_metrics(tmp_path):
    project = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(project)], check=True)
    # the working tree under test, not only what is committed
    for part in ["src", "conf", "dvc.yaml", "pyproject.toml", ".dvc"]:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, project / part, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "local", "cache", "tmp"))
        else:
            shutil.copy2(source, project / part)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "snapshot", "--allow-empty"], cwd=project, check=True)

    def dvc(*args):
        return subprocess.run([str(BIN / "dvc"), *args], cwd=project, env=TEST_ENV,
                              capture_output=True, text=True, timeout=600)

    result = dvc("repro", "ingest")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (project / "data" / "03_primary" / "click_log.parquet").is_file()
    shown = dvc("metrics", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    assert "click_log_rows" in shown.stdout
    diff = dvc("params", "diff", "--all")
    assert diff.returncode == 0, diff.stderr
    assert "ingest.reporting.top_speakers" in diff.stdout
    status = dvc("status", "ingest")
    assert "up to date" in status.stdout.lower() or status.stdout.strip() == "", status.stdout
