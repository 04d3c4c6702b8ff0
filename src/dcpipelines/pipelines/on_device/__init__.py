"""on_device: device profiles applied to every registered device-side model."""

from dcpipelines.pipelines.on_device.pipeline import create_pipeline

__all__ = ["create_pipeline"]
