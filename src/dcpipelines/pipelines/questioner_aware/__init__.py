"""Questioner-aware responses: question clustering, a pre-trained base decoder, dual-tower
contrastive fine-tuning against baselines and ablations, generation and evaluation."""

from dcpipelines.pipelines.questioner_aware.pipeline import create_pipeline

__all__ = ["create_pipeline"]
