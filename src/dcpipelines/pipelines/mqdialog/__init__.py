"""Script turns -> the multi-questioner dialogue data set (MQDialog shape), split and counted."""

from dcpipelines.pipelines.mqdialog.pipeline import create_pipeline

__all__ = ["create_pipeline"]
