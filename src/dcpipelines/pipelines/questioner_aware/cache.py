"""Catalog datasets that let a node reuse its previous output (embeddings, the base decoder).

Each cache file has two catalog entries: the ``*_cache`` entry loads the previous output (or
``None`` when there is none yet) and the output entry writes the new one to the same file.
The node compares the stored fingerprint with its inputs and recomputes only on a mismatch.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset


class _AtomicFile(AbstractDataset[Any, Any]):
    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def _write(self, writer: Any) -> None:
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        handle, staging = tempfile.mkstemp(prefix=f".{self._filepath.name}-", dir=self._filepath.parent)
        os.close(handle)
        try:
            writer(staging)
            os.replace(staging, self._filepath)
        except BaseException:
            Path(staging).unlink(missing_ok=True)
            raise

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}


class OptionalParquetDataset(_AtomicFile):
    """A parquet table that loads as ``None`` while the file does not exist."""

    def load(self) -> pd.DataFrame | None:
        return pd.read_parquet(self._filepath) if self._filepath.is_file() else None

    def save(self, data: pd.DataFrame) -> None:
        self._write(lambda path: data.to_parquet(path, index=False))


class OptionalTorchDataset(_AtomicFile):
    """A dict of tensors, strings and numbers (``torch.save``); ``None`` while missing."""

    def load(self) -> dict[str, Any] | None:
        import torch

        if not self._filepath.is_file():
            return None
        return torch.load(self._filepath, map_location="cpu", weights_only=True)

    def save(self, data: dict[str, Any]) -> None:
        import torch

        self._write(lambda path: torch.save(data, path))
