"""Token-level prompt features from the bundled MiniLM encoder (offline)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Words that carry no content of their own: the key-token gate may be kept off them. Spatial
# prepositions (above, below, behind, ...) say where things are, so they stay candidates.
FUNCTION_WORDS = frozenset([
    "a", "an", "the", "of", "to", "in", "on", "at", "by", "for", "from", "with", "without",
    "against", "and", "or", "but", "as", "is", "are", "be", "it", "its", "this", "that",
    "these", "those", "there", "their", "his", "her",
])


@dataclass
class TokenBatch:
    """Padded token embeddings (N, L, D), the real-token mask (N, L) and the token strings."""

    embeddings: np.ndarray
    mask: np.ndarray
    tokens: list[list[str]]

    def content_mask(self) -> np.ndarray:
        """(N, L) True for content tokens: real tokens that are not [CLS]/[SEP], punctuation,
        a function word, or a word-piece continuation of one. Rows with no content token keep
        all their real tokens, so every prompt has candidates."""
        out = np.zeros_like(self.mask)
        for i, words in enumerate(self.tokens):
            for j, word in enumerate(words):
                plain = word.removeprefix("##")
                out[i, j] = (not (word.startswith("[") and word.endswith("]"))
                             and any(ch.isalnum() for ch in plain) and word.lower() not in FUNCTION_WORDS)
            if not out[i].any():
                out[i] = self.mask[i]
        return out & self.mask


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


def pack_tokens(batch: TokenBatch) -> dict[str, Any]:
    """A token batch as tensors, strings and numbers (what the project's cache stores)."""
    import torch

    return {"embeddings": torch.as_tensor(batch.embeddings), "mask": torch.as_tensor(batch.mask),
            "tokens": [list(t) for t in batch.tokens]}


def unpack_tokens(packed: dict[str, Any]) -> TokenBatch:
    """The token batch :func:`pack_tokens` stored."""
    return TokenBatch(packed["embeddings"].numpy(), packed["mask"].numpy(), [list(t) for t in packed["tokens"]])
