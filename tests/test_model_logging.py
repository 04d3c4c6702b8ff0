"""A pipeline's ``device_models`` become MLflow models that load and predict."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
import torch

from dcpipelines.hooks import DeviceModelsHooks
from dcpipelines.model_logging import is_device_models, is_logged_models


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    # an experiment id, not set_experiment: an active experiment would outlive this store
    yield mlflow.MlflowClient().create_experiment("dcpipelines")
    mlflow.set_tracking_uri(None)


def _device_models():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(),
                              torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                              torch.nn.Linear(4, 10)).eval()
    return {"demo_classifier": {"module": net, "example_input": torch.rand(1, 3, 16, 16),
                                "description": "a tiny image classifier"}}


def test_device_models_names():
    assert is_device_models("iciia.device_models") and is_device_models("device_models")
    assert not is_device_models("iciia.device_models_cache")
    assert not is_device_models("fedsubavg.mlflow_models")


def test_logged_models_are_device_and_mlflow_models():
    assert is_logged_models("fedsubavg.mlflow_models") and is_logged_models("iciia.device_models")
    assert not is_logged_models("fedsubavg.mlflow_models_table")
    assert not is_logged_models("fedsubavg.global_model")


@pytest.mark.slow
def test_logged_model_loads_and_predicts_like_the_module(store):
    models = _device_models()
    batch = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        expected = models["demo_classifier"]["module"](batch).numpy()
    with mlflow.start_run(experiment_id=store) as run:
        DeviceModelsHooks().after_node_run(outputs={"demo.device_models": models})
    loaded = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/demo_classifier")
    np.testing.assert_allclose(loaded.predict(batch.numpy()), expected, rtol=1e-5, atol=1e-6)
    signature = loaded.metadata.signature
    assert signature is not None and tuple(signature.inputs.to_dict()[0]["tensor-spec"]["shape"]) == (-1, 3, 16, 16)
    registered = mlflow.pyfunc.load_model("models:/demo_classifier/latest")
    np.testing.assert_allclose(registered.predict(batch.numpy()), expected, rtol=1e-5, atol=1e-6)
    client = mlflow.MlflowClient()
    assert client.get_registered_model("demo_classifier").description == "a tiny image classifier"


def test_no_active_run_logs_nothing(store):
    DeviceModelsHooks().after_node_run(outputs={"demo.device_models": _device_models()})
    assert mlflow.MlflowClient().search_registered_models() == []
