"""Trained models a pipeline hands over as ``device_models`` (or ``mlflow_models``) become
MLflow models.

A pipeline whose models run on a device outputs the dataset ``<pipeline>.device_models``: a dict
``{model_name: {"module": nn.Module, "example_input": batch-1 tensor, "description": str}}``
(model names are unique across the project, prefixed with the pipeline name). The hook in
:mod:`dcpipelines.hooks` passes every such output to :func:`log_device_models`, which logs each
module into the pipeline's MLflow run with the ``mlflow.pytorch`` flavour, an input example and a
signature, and registers it in the model registry under its model name, so that

    mlflow.pyfunc.load_model("runs:/<run_id>/<model_name>")     # this run's model
    mlflow.pyfunc.load_model("models:/<model_name>/latest")     # the newest registered one

load it and ``.predict(numpy_batch)`` runs it.

A model worth reusing that does not run on a device (a federated global model, a routing
predictor) is output the same way as ``<pipeline>.mlflow_models``: the same dict, logged and
registered the same way, but not handed to ``on_device``.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

DEVICE_MODELS = "device_models"
MLFLOW_MODELS = "mlflow_models"


def is_device_models(dataset_name: str) -> bool:
    """True for ``device_models`` and its namespaced forms ``<pipeline>.device_models``."""
    return dataset_name.rpartition(".")[2] == DEVICE_MODELS


def is_logged_models(dataset_name: str) -> bool:
    """True for the outputs whose models are logged to MLflow: ``device_models`` and
    ``mlflow_models``, bare or namespaced."""
    return dataset_name.rpartition(".")[2] in (DEVICE_MODELS, MLFLOW_MODELS)


def _requirements() -> list[str]:
    import torch

    return [f"torch=={torch.__version__.split('+')[0]}"]


def log_device_model(name: str, entry: dict[str, Any], *, register: bool = True) -> str:
    """Log one module as an MLflow model of the active run; return its model URI."""
    import mlflow
    import numpy as np
    import torch
    from mlflow.models import infer_signature

    module, example = entry["module"], entry["example_input"]
    module.eval()
    with torch.no_grad():
        output = module(example)
    if isinstance(output, tuple | list):
        output = output[0]
    example_array = example.detach().cpu().numpy()
    signature = infer_signature(example_array, output.detach().cpu().numpy())
    common = {"name": name, "signature": signature, "pip_requirements": _requirements(),
              "metadata": {"description": str(entry.get("description", ""))},
              "registered_model_name": name if register else None}
    try:
        # torch.export (no code runs at load); a batch of two keeps the batch size free
        info = mlflow.pytorch.log_model(
            module, serialization_format="pt2",
            input_example=np.concatenate([example_array, example_array]), **common)
    except Exception as error:  # noqa: BLE001 - a module torch.export cannot trace
        logger.info("%s: torch.export failed (%s); logged as a pickled module", name, error)
        info = mlflow.pytorch.log_model(
            module, serialization_format="pickle", input_example=example_array, **common)
    if register:
        client = mlflow.MlflowClient()
        client.update_registered_model(name, description=str(entry.get("description", "")))
    return info.model_uri


def log_device_models(models: dict[str, dict[str, Any]], *, register: bool = True) -> dict[str, str]:
    """Log every model of a ``device_models`` dict; a model that fails is skipped with a warning
    (a tracking problem must not lose the run's results)."""
    import mlflow

    uris: dict[str, str] = {}
    if mlflow.active_run() is None:
        return uris
    for name, entry in models.items():
        try:
            uris[name] = log_device_model(name, entry, register=register)
        except Exception as error:  # noqa: BLE001 - reported, the run goes on
            logger.warning("could not log model %s to MLflow: %s", name, error)
    return uris
