"""Project hooks: deterministic seeding, and one MLflow run per pipeline."""

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


EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
TRAINING_EXPERIMENT = "custom_model_development"


def node_owners(run_pipeline: Any, registry: Any, requested: list[str]) -> dict[str, str]:
    """Which registered pipeline each node of the run belongs to.

    A node belongs to the first of the requested pipelines that holds it; for ``__default__``
    (or a node no requested pipeline holds) to the first registered pipeline that holds it.
    """
    names = [name for name in requested if name != "__default__"]
    names += [name for name in registry if name != "__default__" and name not in names]
    owners: dict[str, str] = {}
    for name in names:
        for node in registry[name].nodes:
            owners.setdefault(node.name, name)
    return {node.name: owners.get(node.name, "+".join(requested)) for node in run_pipeline.nodes}


class PipelineRunsHooks:
    """One MLflow run per registered pipeline, named and tagged after it.

    kedro-mlflow opens one run per ``kedro run``. When the run spans several pipelines (a bare
    ``kedro run`` runs ``__default__``, i.e. all of them), this hook switches the active MLflow
    run before each node to the run of the pipeline the node belongs to, so that every
    pipeline's parameters, metrics, curves and models land in a run of their own: runs of the
    same pipeline can then be compared side by side. The first pipeline reuses the run
    kedro-mlflow opened; every run carries the tags ``pipeline``, ``kedro_command``,
    ``git_commit``, ``git_dirty``, ``kedro_env`` and ``kedro_session`` (shared by the runs of
    one ``kedro run``). The experiment is marked as a model-training experiment.
    """

    def __init__(self) -> None:
        self._owner: dict[str, str] = {}
        self._left: dict[str, int] = {}
        self._runs: dict[str, str] = {}
        self._tags: dict[str, str] = {}

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any) -> None:
        from kedro.framework.project import pipelines as registry

        requested = run_params.get("pipeline_names") or [run_params.get("pipeline_name")]
        requested = [name for name in requested if name] or ["__default__"]
        self._owner = node_owners(pipeline, registry, requested)
        self._left = {}
        for owner in self._owner.values():
            self._left[owner] = self._left.get(owner, 0) + 1
        commit, dirty = _git_commit(Path(run_params.get("project_path", ".")))
        env = str(run_params.get("env") or "local")
        self._tags = {
            "git_commit": commit,
            "git_dirty": str(dirty).lower(),
            "kedro_env": env,
            "kedro_session": str(run_params.get("run_id") or run_params.get("session_id") or ""),
        }
        self._runs = {}

    @hook_impl(tryfirst=True)
    def before_node_run(self, node: Any) -> None:
        import mlflow
        from kedro_mlflow.framework.hooks import mlflow_hook

        owner = self._owner.get(node.name)
        active = mlflow.active_run()
        if owner is None or active is None:  # tracking is off for this run
            return
        if getattr(mlflow_hook, "_already_active_mlflow", False):
            return  # the caller opened the run (e.g. a notebook): everything stays in it
        if not self._runs:  # the first pipeline takes the run kedro-mlflow opened
            self._claim(active, owner)
        elif self._runs.get(owner) != active.info.run_id:
            self._switch(active.info.experiment_id, owner)

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        owner = self._owner.get(node.name)
        if owner is not None:
            self._left[owner] -= 1

    @hook_impl(trylast=True)
    def after_pipeline_run(self) -> None:
        self._close_all("FINISHED")

    @hook_impl(trylast=True)
    def on_pipeline_error(self) -> None:
        self._close_all("FAILED")

    def _claim(self, active: Any, owner: str) -> None:
        import mlflow

        client = mlflow.MlflowClient()
        client.update_run(active.info.run_id, name=owner)
        experiment = client.get_experiment(active.info.experiment_id)
        if experiment.tags.get(EXPERIMENT_KIND_TAG) != TRAINING_EXPERIMENT:
            client.set_experiment_tag(
                active.info.experiment_id, EXPERIMENT_KIND_TAG, TRAINING_EXPERIMENT
            )
        self._runs[owner] = active.info.run_id
        mlflow.set_tags(self._run_tags(owner))

    def _switch(self, experiment_id: str, owner: str) -> None:
        import mlflow
        from kedro_mlflow.framework.hooks import mlflow_hook

        while mlflow.active_run() is not None:  # kedro-mlflow stacks its run once per node
            mlflow.end_run()
        if owner in self._runs:
            run = mlflow.start_run(run_id=self._runs[owner])
        else:
            run = mlflow.start_run(experiment_id=experiment_id, run_name=owner)
            self._runs[owner] = run.info.run_id
            mlflow.set_tags(self._run_tags(owner))
        mlflow_hook.run_id = run.info.run_id  # kedro-mlflow re-opens this run for each node

    def _run_tags(self, owner: str) -> dict[str, str]:
        return {**self._tags, "pipeline": owner, "kedro_command": f"kedro run --pipelines {owner}"
                + ("" if self._tags["kedro_env"] == "local" else f" --env {self._tags['kedro_env']}")}

    def _close_all(self, status: str) -> None:
        import mlflow

        if not self._runs:
            return
        while mlflow.active_run() is not None:
            mlflow.end_run(status if status == "FAILED" else "FINISHED")
        client = mlflow.MlflowClient()
        for owner, run_id in self._runs.items():
            done = status == "FINISHED" or self._left.get(owner, 0) == 0
            client.set_terminated(run_id, "FINISHED" if done else "FAILED")
        self._runs = {}


class ShortErrorsHooks:
    """Errors meant for the user print as one short block (see :mod:`dcpipelines.short_errors`).

    Installed once the context exists, i.e. after Kedro's logging set up its rich traceback.
    """

    @hook_impl
    def after_context_created(self) -> None:
        from dcpipelines.short_errors import install

        install()


class DeviceModelsHooks:
    """Every ``<pipeline>.device_models`` and ``<pipeline>.mlflow_models`` output is logged as
    MLflow models and registered (see :mod:`dcpipelines.model_logging`), in the run of the
    pipeline that trained them."""

    @hook_impl
    def after_node_run(self, outputs: dict[str, Any]) -> None:
        from dcpipelines.model_logging import is_logged_models, log_device_models

        for name, models in outputs.items():
            if is_logged_models(name) and isinstance(models, dict):
                log_device_models(models)
