"""Shared fixtures: a throw-away copy of the project and a helper to run Kedro in it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# The environment every subprocess of the tests runs with: offline, no telemetry, one thread
# per process (the smoke runs go two at a time on a 2-core machine).
TEST_ENV = {
    **os.environ,
    "KEDRO_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "FLWR_TELEMETRY_ENABLED": "0",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
}


def copy_project(destination: Path) -> Path:
    """Copy what a run needs (config, raw data, project metadata) into ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in ["pyproject.toml", ".telemetry", "dvc.yaml", "README.md"]:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, destination / name)
    (destination / "src").mkdir()  # the package itself is imported from the installed project
    shutil.copytree(ROOT / "conf", destination / "conf", ignore=shutil.ignore_patterns("local"))
    (destination / "conf" / "local").mkdir()
    for layer in sorted((ROOT / "data").iterdir()):
        if layer.name == "01_raw":
            shutil.copytree(layer, destination / "data" / layer.name)
        elif layer.is_dir():
            (destination / "data" / layer.name).mkdir(parents=True)
    return destination


def kedro(project: Path, *args: str, timeout: int = 1500) -> subprocess.CompletedProcess:
    """Run ``kedro ARGS`` in ``project``; output is captured for assertion messages."""
    return subprocess.run(
        [str(BIN / "kedro"), *args], cwd=project, env=TEST_ENV, capture_output=True,
        text=True, timeout=timeout,
    )


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")
