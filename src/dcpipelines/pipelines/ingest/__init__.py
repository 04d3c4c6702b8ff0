"""Raw sources -> validated primary tables shared by every method pipeline."""

from dcpipelines.pipelines.ingest.pipeline import create_pipeline

__all__ = ["create_pipeline"]
