"""The project's one cache: a node that produces something expensive (trained models, query
embeddings) returns a :class:`Cached` instead of the value: a key saying what the value is made
from, and how to build it. The catalog dataset that stores it
(:class:`dcpipelines.datasets.CacheDataset`) builds and writes the value only when the key it
holds differs; otherwise the stored value is kept. Downstream nodes load the stored value.

    def fit_model(data, settings, seed):
        return Cached(fingerprint(settings, seed, data), lambda previous: train(data, settings, seed))

The key is a :func:`fingerprint` of everything the value depends on (settings, seed, the data
it is made from); change any of it and the value is built again. ``key=None`` means any stored
value will do (a step that keeps what an earlier run stored). ``build`` receives the stored value
(or None), so a memo such as an embedding table can reuse the entries it already holds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ANY_KEY = "*"


def fingerprint(*parts: Any) -> str:
    """A stable hash of JSON-able parts (what a cached value was made from)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class Cached:
    """A value to store under ``key``, built by ``build(stored_value_or_None)`` only when needed."""

    key: str | None
    build: Callable[[Any], Any]

    def reuses(self, stored_key: str | None) -> bool:
        """Whether a value stored under ``stored_key`` (None: nothing stored) can be kept."""
        if stored_key is None:
            return False
        return self.key is None or stored_key == self.key

    @property
    def stored_key(self) -> str:
        """The key written next to the value once it is built."""
        return ANY_KEY if self.key is None else self.key
