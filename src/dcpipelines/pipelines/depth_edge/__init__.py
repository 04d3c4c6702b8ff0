"""depth_edge: monocular depth for low-cost forest-floor robots, profiled for edge boards."""

from dcpipelines.pipelines.depth_edge.pipeline import create_pipeline

__all__ = ["create_pipeline"]
