"""Kedro project settings."""

import os

from kedro.config import OmegaConfigLoader

from dcpipelines.hooks import (
    DeviceModelsHooks,
    PipelineRunsHooks,
    SeedHooks,
    ShortErrorsHooks,
)

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

# One torch/BLAS thread unless the user says otherwise: floating-point sums depend on the thread
# count, so the same seed gives the same figures only at the same count, and on small machines
# one thread per process is also the fastest for this project's small models. (Set before any
# pipeline imports torch; an exported OMP_NUM_THREADS wins.)
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", os.environ["OMP_NUM_THREADS"])

HOOKS = (SeedHooks(), PipelineRunsHooks(), ShortErrorsHooks(), DeviceModelsHooks())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
}
