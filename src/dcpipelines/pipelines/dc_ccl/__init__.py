"""DC-CCL: a cloud model that learns from device samples with no raw sample up-link and no
large model down-link (Ding et al., arXiv 2303.10361)."""

from dcpipelines.pipelines.dc_ccl.pipeline import create_pipeline

__all__ = ["create_pipeline"]
