"""The image-table reader: decodes a valid table, and names file, row and field on bad input."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dcpipelines.core.data import DataValidationError, read_image_table


def _jpeg(seed: int, size: int = 32, mode: str = "RGB") -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    if mode != "RGB":
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _table(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame({
        "split": ["train", "test"] * (n // 2),
        "label": [i % 10 for i in range(n)],
        "label_name": [f"class{i % 10}" for i in range(n)],
        "file": [f"f{i}.png" for i in range(n)],
        "image": [_jpeg(i) for i in range(n)],
    })


def _write(tmp_path, table: pd.DataFrame):
    path = tmp_path / "images.parquet"
    table.to_parquet(path, index=False)
    return path


def test_reads_and_decodes_exactly(tmp_path):
    table = _table()
    images = read_image_table(_write(tmp_path, table))
    assert images.images.shape == (6, 32, 32, 3) and images.images.dtype == np.uint8
    # PNG is lossless: the decoded pixels are the encoded ones
    np.testing.assert_array_equal(images.images[3], np.asarray(Image.open(io.BytesIO(table.image[3]))))
    assert list(images.labels) == [0, 1, 2, 3, 4, 5]
    assert images.subset("test").labels.tolist() == [1, 3, 5]
    assert images.class_names[:2] == ("class0", "class1")


@pytest.mark.parametrize("column, value, field, words", [
    ("split", "valid", "split", "expected one of"),
    ("label", 12, "label", "integer class"),
    ("image", b"not an image", "image", "do not decode"),
    ("image", _jpeg(0, size=16), "image", "expected 32x32"),
    ("image", _jpeg(0, mode="L"), "image", "RGB"),
])
def test_bad_rows_name_file_row_and_field(tmp_path, column, value, field, words):
    table = _table()
    table[column] = table[column].astype(object)
    table.at[4, column] = value
    path = _write(tmp_path, table)
    with pytest.raises(DataValidationError) as error:
        read_image_table(path)
    message = str(error.value)
    assert str(path) in message and "row 5" in message and f"field '{field}'" in message
    assert words in message and "Fix:" in message


def test_missing_column_and_missing_file(tmp_path):
    path = _write(tmp_path, _table().drop(columns=["label"]))
    with pytest.raises(DataValidationError, match="missing column"):
        read_image_table(path)
    with pytest.raises(DataValidationError, match="not found"):
        read_image_table(tmp_path / "nope.parquet")


def test_shipped_cifar10_decodes_fully():
    from conftest import ROOT

    images = read_image_table(ROOT / "data/01_raw/images/cifar10.parquet")
    assert images.images.shape == (60000, 32, 32, 3)
    assert np.bincount(images.labels, minlength=10).tolist() == [6000] * 10
    assert (images.split == "train").sum() == 50000
    assert images.class_names[0] == "airplane"
