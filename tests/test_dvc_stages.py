"""dvc.yaml is generated from the pipelines' import graphs and catalog, and stays so."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from conftest import BIN, ROOT, TEST_ENV
from dcpipelines.dvc_stages import COMMAND, SourceTree, build_dvc_yaml


def test_dvc_yaml_is_up_to_date():
    wanted = build_dvc_yaml(ROOT)
    assert (ROOT / "dvc.yaml").read_text() == wanted, (
        f"dvc.yaml is out of date: run `{COMMAND}` and commit the result"
    )


@pytest.fixture(scope="module")
def stages():
    return yaml.safe_load(build_dvc_yaml(ROOT))["stages"]


def test_lazy_imports_inside_functions_are_followed():
    tree = SourceTree(ROOT)
    nodes = tree.imports("dcpipelines.pipelines.fedsubavg.nodes")
    assert "dcpipelines.core.federated.models" in nodes  # imported inside a node function
    assert "dcpipelines.core.federated" in nodes  # and its package


def test_every_stage_depends_on_what_every_run_executes(stages):
    for name, stage in stages.items():
        for shared in ["src/dcpipelines/core/reporting.py", "src/dcpipelines/datasets.py",
                       "src/dcpipelines/settings.py", "src/dcpipelines/hooks.py",
                       f"src/dcpipelines/pipelines/{name}"]:
            assert shared in stage["deps"], (name, shared)
        assert {"conf/base/globals.yml": ["seed"]} in stage["params"], name


def test_a_stage_reads_the_outputs_of_the_stages_before_it(stages):
    produced = {}
    for name, stage in stages.items():
        for dep in stage["deps"]:
            if dep.startswith("data/") and not dep.startswith("data/01_raw"):
                assert dep in produced, f"{name} reads {dep}, which no earlier stage writes"
        for out in stage.get("outs", []):
            produced[next(iter(out)) if isinstance(out, dict) else out] = name
    assert produced["data/03_primary/click_log.parquet"] == "ingest"


# ------------------------------------------------------------------ a fresh copy, after a repro
def _copy(destination):
    for part in ["src", "conf", "data/01_raw", ".dvc"]:
        shutil.copytree(ROOT / part, destination / part, ignore=shutil.ignore_patterns(
            "__pycache__", "local", "cache", "tmp", "config.local"))
    for name in ["dvc.yaml", ".dvcignore"]:
        shutil.copy2(ROOT / name, destination / name)
    return destination


def _fake_outputs(project, stages):
    """Stand-ins for every output, so that ``dvc commit`` records a lock as after a repro."""
    for stage in stages.values():
        for entry in [*stage.get("outs", []), *stage.get("metrics", []), *stage.get("plots", [])]:
            path = project / (next(iter(entry)) if isinstance(entry, dict) else entry)
            if path.suffix:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("{}\n" if path.suffix == ".json" else "stand-in\n")
            else:
                path.mkdir(parents=True, exist_ok=True)
                (path / "stand-in.csv").write_text("step,value,series\n1,0.5,a\n")


@pytest.mark.slow
def test_dvc_status_names_exactly_the_stages_a_change_affects(tmp_path, stages):
    project = _copy(tmp_path / "clone")
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    _fake_outputs(project, stages)

    def dvc(*args):
        result = subprocess.run([str(BIN / "dvc"), *args], cwd=project, env=TEST_ENV,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        return result.stdout

    def changed():
        return set(json.loads(dvc("status", "--json") or "{}"))

    dvc("commit", "--force", "--quiet")
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "snapshot"], cwd=project, check=True)
    assert changed() == set()

    parameters = project / "conf/base/parameters_fedsubavg.yml"
    original = parameters.read_text()
    config = yaml.safe_load(original)
    config["fedsubavg"]["seed_note_for_test"] = 1  # a new key under the stage's params
    parameters.write_text(yaml.safe_dump(config))
    assert changed() == {"fedsubavg"}
    parameters.write_text(original)

    engine = project / "src/dcpipelines/core/federated/engine.py"
    engine.write_text(engine.read_text() + "\n# changed\n")
    users = {name for name, stage in stages.items()
             if "src/dcpipelines/core/federated/engine.py" in stage["deps"]}
    assert users >= {"fedsubavg", "fed_influence"}
    assert changed() == users
