"""Kedro project settings."""

import os

from kedro.config import OmegaConfigLoader

from dcpipelines.hooks import OfflineAndSeedHooks, RunTagsHooks

# Nothing in this project reaches for the network at run time.
for _variable, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "KEDRO_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "FLWR_TELEMETRY_ENABLED": "0",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}.items():
    os.environ.setdefault(_variable, _value)

HOOKS = (OfflineAndSeedHooks(), RunTagsHooks())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
}
