"""Personalised language models on text uploaded without user identifiers (anonymous user
embeddings sampled per upload from per-device distributions), with tracking attacks."""

from dcpipelines.pipelines.anon_embed.pipeline import create_pipeline

__all__ = ["create_pipeline"]
