"""Every pipeline of the project, by name; ``__default__`` runs them all."""

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

HANDED_MODELS_SUFFIX = ".device_models"


def register_pipelines() -> dict[str, Pipeline]:
    """Every pipeline found under ``pipelines/``; ``on_device`` is told which datasets hand it
    device models, so that it runs after them."""
    pipelines = find_pipelines(raise_errors=True)
    if "on_device" in pipelines:
        from dcpipelines.pipelines.on_device.pipeline import create_pipeline

        handed = sorted({name for key, pipeline in pipelines.items() if key != "on_device"
                         for name in pipeline.all_outputs() if name.endswith(HANDED_MODELS_SUFFIX)})
        pipelines["on_device"] = create_pipeline(handed=handed)
    pipelines["__default__"] = sum(pipelines.values())
    return pipelines
