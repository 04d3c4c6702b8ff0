"""RouteT2I: route text-to-image prompts between an edge and a cloud generator under a budget."""

from dcpipelines.pipelines.route_t2i.pipeline import create_pipeline

__all__ = ["create_pipeline"]
