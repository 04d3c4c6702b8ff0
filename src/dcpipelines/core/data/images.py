"""Reader for labelled image tables in the shipped CIFAR-10 format, decoded to arrays.

A parquet table with the columns ``split`` (``train``/``test``), ``label`` (integer class),
``label_name``, ``file`` (the image's name upstream) and ``image`` (the encoded bytes of one
RGB image: JPEG or PNG, decoded with Pillow). Every image must decode to the same
``height x width x 3``. The decoded set is an :class:`ImageSet` of uint8 arrays, which the
catalog stores once so that no pipeline decodes the JPEGs again.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dcpipelines.core.data.errors import DataValidationError, require_file

IMAGE_COLUMNS = ["split", "label", "label_name", "file", "image"]
SPLITS = ("train", "test")


@dataclass(frozen=True)
class ImageSet:
    """Decoded images (N, H, W, 3) uint8 with their labels, splits and upstream names."""

    images: np.ndarray
    labels: np.ndarray  # int64, 0 .. num_classes - 1
    split: np.ndarray  # str: "train" / "test"
    files: np.ndarray  # str
    class_names: tuple[str, ...]

    def subset(self, split: str) -> ImageSet:
        """Only the images of one split."""
        keep = self.split == split
        return ImageSet(self.images[keep], self.labels[keep], self.split[keep], self.files[keep],
                        self.class_names)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for storage (see :meth:`from_arrays`)."""
        return {"images": self.images, "labels": self.labels,
                "split": np.asarray(self.split, dtype=str),
                "files": np.asarray(self.files, dtype=str),
                "class_names": np.asarray(self.class_names, dtype=str)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ImageSet:
        """The set back from the arrays :meth:`to_arrays` wrote (the ``.npz`` form)."""
        return cls(arrays["images"], arrays["labels"], arrays["split"], arrays["files"],
                   tuple(str(n) for n in arrays["class_names"]))


def _fail(path: Path, row: int, field: str, problem: str, fix: str) -> DataValidationError:
    # parquet has no lines; "row" counts data rows from 1
    return DataValidationError(path, f"row {row + 1}: {problem}", field=field, fix=fix)


def _check_table(table: pd.DataFrame, path: Path, num_classes: int) -> None:
    missing = [c for c in IMAGE_COLUMNS if c not in table.columns]
    if missing:
        raise DataValidationError(
            path, f"missing column(s) {missing}; found {list(table.columns)}", field=missing[0],
            fix=f"the table needs the columns {IMAGE_COLUMNS}")
    if table.empty:
        raise DataValidationError(path, "the table has no rows", fix="point the catalog at a "
                                  "non-empty image table")
    bad = np.flatnonzero(~table["split"].isin(SPLITS).to_numpy())
    if bad.size:
        raise _fail(path, int(bad[0]), "split", f"expected one of {SPLITS}, got "
                    f"{table['split'].iloc[bad[0]]!r}", "set split to 'train' or 'test'")
    labels = pd.to_numeric(table["label"], errors="coerce")
    ok = labels.notna() & (labels % 1 == 0) & labels.between(0, num_classes - 1)
    bad = np.flatnonzero(~ok.to_numpy())
    if bad.size:
        raise _fail(path, int(bad[0]), "label", f"expected an integer class 0..{num_classes - 1}"
                    f", got {table['label'].iloc[bad[0]]!r}", "correct or remove that row")


def _decode(data: object, path: Path, row: int, shape: tuple[int, int] | None) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if not isinstance(data, bytes | bytearray):
        raise _fail(path, row, "image", f"expected encoded image bytes, got "
                    f"{type(data).__name__}", "store the JPEG/PNG file's bytes in 'image'")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.mode != "RGB":
                raise _fail(path, row, "image", f"expected an RGB image, got mode {img.mode}",
                            "convert the image to RGB")
            array = np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as error:
        raise _fail(path, row, "image", f"the bytes do not decode as an image ({error})",
                    "replace the image bytes or remove that row") from None
    if shape is not None and array.shape[:2] != shape:
        raise _fail(path, row, "image", f"expected {shape[0]}x{shape[1]} pixels, got "
                    f"{array.shape[0]}x{array.shape[1]}", "resize the image or remove that row")
    return array


def read_image_table(path: str | Path, *, num_classes: int = 10,
                     image_size: tuple[int, int] | None = (32, 32)) -> ImageSet:
    """Read, validate and decode an image table; the first bad row stops with a clear error."""
    path = require_file(path, "image table")
    try:
        table = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several types for a file that is not parquet
        raise DataValidationError(path, f"not a readable parquet file ({error})",
                                  fix="point the catalog at a parquet image table") from None
    _check_table(table, path, num_classes)
    first = _decode(table["image"].iloc[0], path, 0, image_size)
    size = image_size or first.shape[:2]
    images = np.empty((len(table), *size, 3), dtype=np.uint8)
    images[0] = first
    for row, data in enumerate(table["image"].iloc[1:], start=1):
        images[row] = _decode(data, path, row, size)
    labels = table["label"].astype("int64").to_numpy()
    names = (table.drop_duplicates("label").set_index("label")["label_name"].astype(str))
    class_names = tuple(names.get(i, str(i)) for i in range(num_classes))
    return ImageSet(images, labels, table["split"].to_numpy(dtype=str),
                    table["file"].to_numpy(dtype=str), class_names)
