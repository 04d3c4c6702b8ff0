"""Token-level prompt features from the bundled MiniLM encoder (offline)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class TokenBatch:
    """Padded token embeddings (N, L, D), the real-token mask (N, L) and the token strings."""

    embeddings: np.ndarray
    mask: np.ndarray
    tokens: list[list[str]]


def token_features(texts: list[str], batch_size: int = 128) -> TokenBatch:
    """MiniLM's contextual token embeddings of each text ([CLS] and [SEP] included)."""
    from dcpipelines.core.text.encoder import sentence_encoder

    encoder = sentence_encoder()
    rows = encoder.encode(list(texts), output_value="token_embeddings", batch_size=batch_size,
                          convert_to_numpy=False, show_progress_bar=False)
    tokenizer = encoder.tokenizer
    tokens = [tokenizer.convert_ids_to_tokens(tokenizer(t, truncation=True,
                                                        max_length=encoder.max_seq_length)["input_ids"])
              for t in texts]
    width = max((len(r) for r in rows), default=1)
    dim = encoder.get_embedding_dimension()
    embeddings = np.zeros((len(texts), width, dim), np.float32)
    mask = np.zeros((len(texts), width), bool)
    for i, (row, words) in enumerate(zip(rows, tokens, strict=True)):
        if len(row) != len(words):
            raise ValueError(f"token count mismatch for {texts[i]!r}: {len(row)} vs {len(words)}")
        embeddings[i, :len(row)] = row.detach().cpu().numpy()
        mask[i, :len(row)] = True
    return TokenBatch(embeddings, mask, tokens)
