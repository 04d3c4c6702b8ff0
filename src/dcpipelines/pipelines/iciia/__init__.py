"""ICIIA: intra-client, inter-image attention on a frozen CIFAR-10 backbone."""

from dcpipelines.pipelines.iciia.pipeline import create_pipeline

__all__ = ["create_pipeline"]
