"""Kedro datasets of the project: validated readers for raw files, atomic parquet, reports.

These are the catalog's side of the core readers and of :mod:`dcpipelines.core.reporting`:
nodes receive typed tables and return :class:`~dcpipelines.core.reporting.Report` objects,
and never touch files or MLflow themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from typing_extensions import override

from dcpipelines.core.atomic import write_file_atomically, write_folder_atomically
from dcpipelines.core.data import (
    ImageSet,
    read_click_log,
    read_image_table,
    read_labelled_dialogue,
    read_prompts,
    read_script,
)
from dcpipelines.core.reporting import Report, history_long, read_metrics, write_report

# The Kedro data layers, by folder: every dataset of this module that lives under one gets
# ``metadata: {kedro-viz: {layer: ...}}`` unless its catalog entry sets one, so Kedro-Viz draws
# the graph in layers without a metadata block on every catalog entry.
LAYERS = {
    "01_raw": "raw", "02_intermediate": "intermediate", "03_primary": "primary",
    "04_feature": "feature", "05_model_input": "model_input", "06_models": "models",
    "07_model_output": "model_output", "08_reporting": "reporting",
}


def with_layer(metadata: dict[str, Any] | None, path: str | PurePosixPath) -> dict[str, Any] | None:
    """``metadata`` with the Kedro-Viz layer of the data folder ``path`` lies in (if any)."""
    layer = next((LAYERS[part] for part in PurePosixPath(path).parts if part in LAYERS), None)
    if layer is None:
        return metadata
    merged = dict(metadata or {})
    merged["kedro-viz"] = {"layer": layer, **(merged.get("kedro-viz") or {})}
    return merged

logger = logging.getLogger(__name__)


class _RawFileDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """A read-only raw file parsed and validated by a core reader."""

    reader: Callable[[Path], pd.DataFrame]

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = PurePosixPath(filepath)
        self.metadata = with_layer(metadata, filepath)

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
        self.metadata = with_layer(metadata, filepath)

    def _write(self, writer: Callable[[str], None]) -> None:
        write_file_atomically(self._filepath, writer)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "save_args": self._save_args}


class AtomicParquetDataset(_AtomicFileDataset):
    """A local parquet table, written atomically."""

    @override
    def load(self) -> pd.DataFrame:
        return pd.read_parquet(self._filepath)

    @override
    def save(self, data: pd.DataFrame) -> None:
        self._write(lambda path: data.to_parquet(path, **{"index": False, **self._save_args}))


class CacheDataset(_AtomicFileDataset):
    """The store of the project's one cache (:mod:`dcpipelines.core.cache`): a value in a local
    file (``.pt``: ``torch.save`` of tensors, strings and numbers; ``.parquet``: a table) and,
    next to it, the key it was built under (``<file>.key``).

    Saving a :class:`~dcpipelines.core.cache.Cached` builds and writes the value only when the
    stored key differs (or nothing is stored); saving a plain value writes it. Loading returns
    the stored value.
    """

    @override
    def load(self) -> Any:
        if self._filepath.suffix == ".parquet":
            return pd.read_parquet(self._filepath)
        import torch

        return torch.load(self._filepath, map_location="cpu", weights_only=True)

    @override
    def save(self, data: Any) -> None:
        from dcpipelines.core.cache import Cached

        if not isinstance(data, Cached):
            data = Cached(None, lambda _previous, value=data: value)
            self._key_path.unlink(missing_ok=True)  # a plain value always replaces the stored one
        stored = self._key_path.read_text() if self._key_path.is_file() and self._filepath.is_file() else None
        if data.reuses(stored):
            logger.info("%s: reusing the stored value (same key %s)", self._filepath, stored)
            return
        previous = self.load() if self._filepath.is_file() else None
        value = data.build(previous)
        self._key_path.unlink(missing_ok=True)  # no stale key while the value is replaced
        if self._filepath.suffix == ".parquet":
            self._write(lambda path: value.to_parquet(path, index=False))
        else:
            import torch

            self._write(lambda path: torch.save(value, path))
        write_file_atomically(self._key_path, lambda path: Path(path).write_text(data.stored_key))

    @property
    def _key_path(self) -> Path:
        return self._filepath.with_name(self._filepath.name + ".key")


class ImageSetDataset(_AtomicFileDataset):
    """Decoded images with labels (:class:`~dcpipelines.core.data.ImageSet`) as an
    uncompressed ``.npz``: loading 60,000 CIFAR-10 images takes a fraction of a second."""

    @override
    def load(self) -> ImageSet:
        import numpy as np

        with np.load(self._filepath, allow_pickle=False) as arrays:
            return ImageSet.from_arrays({key: arrays[key] for key in arrays.files})

    @override
    def save(self, data: ImageSet) -> None:
        import numpy as np

        if not isinstance(data, ImageSet):
            raise DatasetError(f"{self._filepath}: expected an ImageSet, got {type(data).__name__}")

        def write(path: str) -> None:
            with open(path, "wb") as handle:
                np.savez(handle, **data.to_arrays())

        self._write(write)


class BinaryFileDataset(_AtomicFileDataset):
    """Raw bytes in a local file (an exported ``.onnx`` or ``.mnn`` model), written atomically
    and logged as an artifact of the active MLflow run under ``exported_models/``."""

    @override
    def load(self) -> bytes:
        return self._filepath.read_bytes()

    @override
    def save(self, data: bytes) -> None:
        if not isinstance(data, bytes | bytearray):
            raise DatasetError(f"{self._filepath}: expected bytes, got {type(data).__name__}")
        self._write(lambda path: Path(path).write_bytes(data))
        import mlflow

        if mlflow.active_run() is not None:
            mlflow.log_artifact(str(self._filepath), artifact_path="exported_models")


class DeviceModelsDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """Device-side models handed to ``on_device``: one ``<name>.pt`` file per model under
    ``path`` (``torch.save`` of the entry ``{"module", "example_input", "description"}``; the
    module classes live in ``dcpipelines.core``).

    Saving replaces the folder atomically, so a model a pipeline no longer hands disappears.
    Loading reads every ``.pt`` file under ``path``, sub-folders included, so one entry over the
    parent folder sees the models of every pipeline; a missing folder loads as ``{}``.
    """

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    @override
    def load(self) -> dict[str, Any]:
        import torch

        models: dict[str, Any] = {}
        for file in sorted(self._path.rglob("*.pt")) if self._path.is_dir() else []:
            if any(part.startswith(".") for part in file.relative_to(self._path).parts):
                continue  # a save in progress or a retired copy
            if file.stem in models:
                raise DatasetError(f"{self._path}: two handed models are named {file.stem!r}; "
                                   "prefix every model name with its pipeline's name")
            models[file.stem] = torch.load(file, map_location="cpu", weights_only=False)
        return models

    @override
    def save(self, data: dict[str, Any]) -> None:
        import torch

        from dcpipelines.core.devices.models import check_entry

        if not isinstance(data, dict):
            raise DatasetError(f"{self._path}: expected a dict of device models, got {type(data).__name__}")
        for name, entry in data.items():
            check_entry(name, entry)

        def write(staging: Path) -> None:
            for name, entry in data.items():
                torch.save(dict(entry), staging / f"{name}.pt")

        write_folder_atomically(self._path, write)

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}


class ReportDataset(AbstractDataset[Report, dict[str, float]]):
    """A pipeline's report folder; also logs its metrics and files to the active MLflow run.

    Saving writes ``metrics.json``, ``report.md``, ``plots/`` and ``tables/`` atomically
    (see :func:`dcpipelines.core.reporting.write_report`). Loading returns the metrics.
    """

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = with_layer(metadata, path)

    @override
    def load(self) -> dict[str, float]:
        return read_metrics(self._path)

    @override
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

    run = mlflow.active_run()
    if run is None:
        return
    mlflow.log_metrics({key: float(value) for key, value in report.metrics.items()})
    _log_histories(run.info.run_id, report)
    mlflow.log_artifacts(str(path), artifact_path=f"reports/{report.name}")


def _log_histories(run_id: str, report: Report) -> None:
    """Each curve as an MLflow metric history ``<name>/<series>`` with the epoch/round as step."""
    import time

    import mlflow
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    points = [
        Metric(f"{name}/{row.series}", float(row.value), now, int(row.step))
        for name, table in report.histories.items()
        for row in history_long(table).itertuples(index=False)
    ]
    client = mlflow.MlflowClient()
    for start in range(0, len(points), 1000):  # MLflow takes at most 1000 metrics per batch
        client.log_batch(run_id, metrics=points[start:start + 1000])

class RgbdFolderDataset(AbstractDataset[Any, Any]):
    """A folder of paired RGB and 16-bit depth PNGs (``rgb/<name>.png``, ``depth/<name>.png``).

    Loading is lazy: it returns a :class:`dcpipelines.core.vision.rgbd.RgbdFolder`, which the
    graph reads (and validates) only when its parameters select the folder as the data source.
    """

    def __init__(self, path: str, depth_scale: float = 0.001,
                 metadata: dict[str, Any] | None = None) -> None:
        self._path = str(path)
        self._depth_scale = float(depth_scale)
        self.metadata = metadata

    @override
    def load(self) -> Any:
        from dcpipelines.core.vision.rgbd import RgbdFolder

        return RgbdFolder(self._path, self._depth_scale)

    @override
    def save(self, data: Any) -> None:
        raise DatasetError(f"{self._path} is raw input and read-only")

    def _exists(self) -> bool:
        return Path(self._path).is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": self._path, "depth_scale": self._depth_scale}
