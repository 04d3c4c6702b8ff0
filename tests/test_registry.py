"""The registry, the configuration and the device/cloud boundary of every pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.framework.project import configure_project, pipelines
from kedro.pipeline import Node, Pipeline

from dcpipelines.pipelines.boundary import boundary_violations

ROOT = Path(__file__).resolve().parents[1]
configure_project("dcpipelines")
NAMES = sorted(name for name in pipelines if name != "__default__")


def test_default_runs_every_pipeline():
    default = pipelines["__default__"]
    for name in NAMES:
        assert set(pipelines[name].nodes) <= set(default.nodes), name


@pytest.mark.parametrize("name", NAMES)
def test_each_pipeline_has_config_tests_and_named_nodes(name):
    assert (ROOT / "conf" / "base" / f"parameters_{name}.yml").is_file()
    assert (ROOT / "conf" / "base" / f"catalog_{name}.yml").is_file()
    assert (ROOT / "tests" / "pipelines" / name).is_dir()
    for node in pipelines[name].nodes:
        assert "__" not in node.name and not node.name.split(".")[-1].startswith("<lambda>"), node
    assert f"{name}.report" in pipelines[name].all_outputs(), f"{name} writes no report"


@pytest.mark.parametrize("name", NAMES)
def test_no_cloud_node_reads_raw_device_data(name):
    assert boundary_violations(pipelines[name]) == []


def _identity(x):
    return x


def test_boundary_check_catches_a_cloud_node_reading_device_data():
    leaky = Pipeline(
        [
            Node(_identity, "device_clicks", "upload_update", name="train_on_device", tags=["device"]),
            Node(_identity, "device_clicks", "cloud_model", name="train_in_cloud", tags=["cloud"]),
        ]
    )
    violations = boundary_violations(leaky)
    assert violations == ["cloud node 'train_in_cloud' reads device-only dataset 'device_clicks'"]


@pytest.mark.parametrize(("exported", "expected"), [(None, 1), ("2", 2)])
def test_runs_use_one_torch_thread_unless_told_otherwise(exported, expected):
    """Figures depend on torch's thread count: the project fixes it to one by default."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    if exported:
        env["OMP_NUM_THREADS"] = exported
    code = "import dcpipelines.settings, torch; print(torch.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout.strip()) == expected
