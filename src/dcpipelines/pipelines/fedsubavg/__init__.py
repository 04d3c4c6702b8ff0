"""FedSubAvg vs FedAvg and FedProx on sparse-feature clients (Amazon clicks, Shakespeare)."""

from dcpipelines.pipelines.fedsubavg.pipeline import create_pipeline

__all__ = ["create_pipeline"]
