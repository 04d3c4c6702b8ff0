"""Kedro datasets of the project: validated readers for raw files, atomic parquet, reports.

These are the catalog's side of the core readers and of :mod:`dcpipelines.core.reporting`:
nodes receive typed tables and return :class:`~dcpipelines.core.reporting.Report` objects,
and never touch files or MLflow themselves.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from dcpipelines.core.data import (
    ImageSet,
    read_click_log,
    read_image_table,
    read_labelled_dialogue,
    read_prompts,
    read_script,
)
from dcpipelines.core.reporting import Report, read_metrics, write_report


class _RawFileDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """A read-only raw file parsed and validated by a core reader."""

    reader: Callable[[Path], pd.DataFrame]

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = PurePosixPath(filepath)
        self.metadata = metadata

    def load(self) -> pd.DataFrame:
        return type(self).reader(Path(self._filepath))

    def save(self, data: pd.DataFrame) -> None:
        raise DatasetError(f"{self._filepath} is raw input and read-only")

    def _exists(self) -> bool:
        return Path(self._filepath).is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "reader": type(self).reader.__name__}


class ScriptDataset(_RawFileDataset):
    """A ``SPEAKER:`` dialogue script, read into a table of turns."""

    reader = staticmethod(read_script)


class ClickLogDataset(_RawFileDataset):
    """A click log in the FedSubAvg Amazon format (tab-separated, optionally gzipped)."""

    reader = staticmethod(read_click_log)


class PromptTableDataset(_RawFileDataset):
    """A text-to-image prompt table in the PartiPrompts format."""

    reader = staticmethod(read_prompts)


class ImageTableDataset(_RawFileDataset):
    """A labelled image table in the shipped CIFAR-10 parquet format, decoded and validated."""

    reader = staticmethod(read_image_table)


class LabelledDialogueDataset(_RawFileDataset):
    """Utterances with sentiment labels in the CPED release format (CSV, optionally gzipped)."""

    reader = staticmethod(read_labelled_dialogue)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _AtomicFileDataset(AbstractDataset[Any, Any]):
    """A local file written to a temporary sibling and renamed into place.

    A run that fails mid-write leaves the previous file untouched and no partial file.
    """

    def __init__(
        self,
        filepath: str,
        save_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._filepath = Path(filepath)
        self._save_args = save_args or {}
        self.metadata = metadata

    def _write(self, writer: Callable[[str], None]) -> None:
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        handle, staging = tempfile.mkstemp(
            prefix=f".{self._filepath.name}-", dir=self._filepath.parent
        )
        os.close(handle)
        try:
            writer(staging)
            os.chmod(staging, 0o666 & ~_umask())  # mkstemp makes files private (0600)
            os.replace(staging, self._filepath)
        except BaseException:
            Path(staging).unlink(missing_ok=True)
            raise

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "save_args": self._save_args}


class AtomicParquetDataset(_AtomicFileDataset):
    """A local parquet table, written atomically."""

    def load(self) -> pd.DataFrame:
        return pd.read_parquet(self._filepath)

    def save(self, data: pd.DataFrame) -> None:
        self._write(lambda path: data.to_parquet(path, **{"index": False, **self._save_args}))


class OptionalParquetDataset(AtomicParquetDataset):
    """A parquet cache: loads as ``None`` while the file does not exist yet.

    Used in pairs with an output entry on the same file, so that a node can reuse its previous
    output (it compares a stored fingerprint with its inputs and recomputes on a mismatch).
    """

    def load(self) -> pd.DataFrame | None:
        return super().load() if self._filepath.is_file() else None


class OptionalTorchDataset(_AtomicFileDataset):
    """A ``torch.save`` dict of tensors, strings and numbers; ``None`` while missing."""

    def load(self) -> dict[str, Any] | None:
        import torch

        if not self._filepath.is_file():
            return None
        return torch.load(self._filepath, map_location="cpu", weights_only=True)

    def save(self, data: dict[str, Any]) -> None:
        import torch

        self._write(lambda path: torch.save(data, path))


class ImageSetDataset(_AtomicFileDataset):
    """Decoded images with labels (:class:`~dcpipelines.core.data.ImageSet`) as an
    uncompressed ``.npz``: loading 60,000 CIFAR-10 images takes a fraction of a second."""

    def load(self) -> ImageSet:
        import numpy as np

        with np.load(self._filepath, allow_pickle=False) as arrays:
            return ImageSet.from_arrays({key: arrays[key] for key in arrays.files})

    def save(self, data: ImageSet) -> None:
        import numpy as np

        if not isinstance(data, ImageSet):
            raise DatasetError(f"{self._filepath}: expected an ImageSet, got {type(data).__name__}")

        def write(path: str) -> None:
            with open(path, "wb") as handle:
                np.savez(handle, **data.to_arrays())

        self._write(write)


class BinaryFileDataset(_AtomicFileDataset):
    """Raw bytes in a local file (an exported ``.onnx`` or ``.mnn`` model), written atomically."""

    def load(self) -> bytes:
        return self._filepath.read_bytes()

    def save(self, data: bytes) -> None:
        if not isinstance(data, bytes | bytearray):
            raise DatasetError(f"{self._filepath}: expected bytes, got {type(data).__name__}")
        self._write(lambda path: Path(path).write_bytes(data))


class ReportDataset(AbstractDataset[Report, dict[str, float]]):
    """A pipeline's report folder; also logs its metrics and files to the active MLflow run.

    Saving writes ``metrics.json``, ``report.md``, ``plots/`` and ``tables/`` atomically
    (see :func:`dcpipelines.core.reporting.write_report`). Loading returns the metrics.
    """

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> dict[str, float]:
        return read_metrics(self._path)

    def save(self, data: Report) -> None:
        if not isinstance(data, Report):
            raise DatasetError(f"{self._path}: expected a Report, got {type(data).__name__}")
        write_report(data, self._path)
        _log_report_to_mlflow(data, self._path)

    def _exists(self) -> bool:
        return (self._path / "metrics.json").is_file()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}


def _log_report_to_mlflow(report: Report, path: Path) -> None:
    import mlflow

    if mlflow.active_run() is None:
        return
    mlflow.log_metrics({key: float(value) for key, value in report.metrics.items()})
    mlflow.log_artifacts(str(path), artifact_path=f"reports/{report.name}")
