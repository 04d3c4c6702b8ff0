"""Walle: MNN compute container, on-device stream processing, push-then-pull deployment."""

from dcpipelines.pipelines.walle.pipeline import create_pipeline

__all__ = ["create_pipeline"]
