"""Project hooks: deterministic seeding and run tags for MLflow."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
from kedro.framework.hooks import hook_impl


def _git_commit(project_path: Path) -> tuple[str, bool]:
    """The current commit and whether the work tree has uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project_path, capture_output=True, text=True,
            check=True,
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"], cwd=project_path,
                capture_output=True, text=True, check=True,
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False
    return commit, dirty


class SeedHooks:
    """Seed Python, NumPy and (when loaded) torch before every node with the global ``seed``
    parameter (the same seed every pipeline's ``seed`` defaults to; ``--params seed=N`` sets both).

    Nodes take explicit seeds from their parameters; this is a second line of defence so that
    a library drawing from a global generator is deterministic too.
    """

    def __init__(self) -> None:
        self.seed = 0

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        if "seed" not in context.params:
            raise KeyError("no global `seed` parameter: conf/base/parameters.yml must set "
                           "`seed: ${runtime_params:seed,${globals:seed}}`")
        self.seed = int(context.params["seed"])

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        random.seed(self.seed)
        np.random.seed(self.seed % 2**32)
        import sys

        torch = sys.modules.get("torch")  # only when a pipeline has imported it
        if torch is not None:
            torch.manual_seed(self.seed)


class RunTagsHooks:
    """Tag the MLflow run with the pipeline name and the git commit it ran on."""

    def __init__(self) -> None:
        self._tags: dict[str, str] = {}
        self._tagged = False

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        names = run_params.get("pipeline_names") or [run_params.get("pipeline_name")]
        names = [name for name in names if name] or ["__default__"]
        commit, dirty = _git_commit(Path(run_params.get("project_path", ".")))
        self._tags = {
            "pipeline": "+".join(names),
            "git_commit": commit,
            "git_dirty": str(dirty).lower(),
            "kedro_env": str(run_params.get("env") or "local"),
        }
        self._tagged = False

    @hook_impl
    def before_node_run(self) -> None:
        if self._tagged:
            return
        import mlflow

        if mlflow.active_run() is not None:
            mlflow.set_tags(self._tags)
            self._tagged = True
