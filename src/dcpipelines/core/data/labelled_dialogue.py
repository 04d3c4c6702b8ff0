"""Reader for utterance-labelled dialogue tables in the CPED release format.

Comma-separated UTF-8 (a leading byte-order mark is accepted), one header row, one utterance
per row in dialogue order. Required columns: ``TV_ID``, ``Dialogue_ID``, ``Utterance_ID``,
``Speaker``, ``Sentiment`` (negative / neutral / positive), ``Emotion``, ``DA`` and
``Utterance``; CPED's speaker attributes (gender, age, Big-Five), scene and face boxes are kept
when present. The file may be gzip-compressed. Columns come back in snake_case.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from pathlib import Path

import pandas as pd

from dcpipelines.core.data.errors import DataValidationError, require_file

SENTIMENTS = ("negative", "neutral", "positive")
REQUIRED = ["TV_ID", "Dialogue_ID", "Utterance_ID", "Speaker", "Sentiment", "Emotion", "DA",
            "Utterance"]
OPTIONAL = ["Gender", "Age", "Neuroticism", "Extraversion", "Openness", "Agreeableness",
            "Conscientiousness", "Scene", "FacePosition_LU", "FacePosition_RD"]
NON_EMPTY = ["Dialogue_ID", "Utterance_ID", "Speaker", "Utterance"]


def snake_case(name: str) -> str:
    """``Dialogue_ID`` -> ``dialogue_id``, ``FacePosition_LU`` -> ``face_position_lu``."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower()


def _decoded_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataValidationError(path, f"not valid UTF-8 ({err.reason})",
                                  fix="re-save the table as UTF-8 (with or without BOM)") from err
    except (EOFError, OSError) as err:
        raise DataValidationError(path, f"cannot be read ({err})",
                                  fix="give a CSV file, optionally gzip-compressed") from err


def _check_field_counts(path: Path, text: str) -> None:
    """Every row has as many fields as the header (quoted commas and newlines respected)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        width = len(next(reader))
        for row in reader:
            if row and len(row) != width:
                raise DataValidationError(
                    path, f"expected {width} comma-separated fields, found {len(row)}",
                    line=reader.line_num,
                    fix="quote fields that contain commas, or repair the row",
                )
    except csv.Error as err:
        raise DataValidationError(path, f"cannot be parsed as CSV ({err})", line=reader.line_num,
                                  fix="close the quotes of that row") from err
    except StopIteration:
        raise DataValidationError(path, "empty file", line=1,
                                  fix="give a header row and one row per utterance") from None


def _read_table(path: Path) -> pd.DataFrame:
    text = _decoded_text(path)
    _check_field_counts(path, text)
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, index_col=False)


def _first_bad_row(mask: pd.Series) -> int | None:
    bad = mask.to_numpy().nonzero()[0]
    return int(bad[0]) if bad.size else None


def read_labelled_dialogue(path: str | Path) -> pd.DataFrame:
    """Read and validate a labelled dialogue table; adds ``position`` (row order, 0-based)."""
    path = require_file(path, "labelled dialogue table")
    frame = _read_table(path)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataValidationError(
            path, f"missing column(s) {missing}; found {list(frame.columns)}", line=1,
            fix=f"the header row needs {', '.join(REQUIRED)} (comma-separated)",
        )
    for column in NON_EMPTY:
        row = _first_bad_row(frame[column].str.strip() == "")
        if row is not None:
            raise DataValidationError(path, f"empty {column}", line=row + 2, field=column,
                                      fix="fill in the value or delete that row")
    sentiment = frame["Sentiment"].str.strip().str.lower()
    row = _first_bad_row(~sentiment.isin(SENTIMENTS))
    if row is not None:
        raise DataValidationError(
            path, f"unknown sentiment {frame['Sentiment'].iloc[row]!r}", line=row + 2,
            field="Sentiment", fix=f"use one of {', '.join(SENTIMENTS)}",
        )
    frame["Sentiment"] = sentiment
    for column in OPTIONAL:
        if column not in frame.columns:
            frame[column] = ""
    columns = REQUIRED[:3] + ["Speaker", *OPTIONAL, *REQUIRED[4:]]
    table = frame[columns].rename(columns=snake_case)
    table["speaker"] = table["speaker"].str.strip()
    table.insert(0, "position", range(len(table)))
    table["position"] = table["position"].astype("int64")
    return table.reset_index(drop=True)
