"""CoDA: on-device recommendation models personalised with samples retrieved from the cloud."""

from dcpipelines.pipelines.coda.pipeline import create_pipeline

__all__ = ["create_pipeline"]
