"""Fed-Influence: estimate each client's influence on the federated model, check it, debug."""

from dcpipelines.pipelines.fed_influence.pipeline import create_pipeline

__all__ = ["create_pipeline"]
