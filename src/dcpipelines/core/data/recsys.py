"""Reader for click logs in the FedSubAvg Amazon Electronics format.

Tab-separated, with the header ``label user_id item_id history``: ``label`` is 1 (click) or 0,
ids are positive integers, ``history`` is a comma-separated list of earlier clicked item ids
(``0`` for none). Rows of one user are in time order. The file may be gzip-compressed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dcpipelines.core.data.errors import DataValidationError, require_file

CLICK_COLUMNS = ["label", "user_id", "item_id", "history"]


def _first_bad(mask: np.ndarray) -> int | None:
    bad = np.flatnonzero(mask)
    return int(bad[0]) if bad.size else None


def _check_int_column(frame: pd.DataFrame, column: str, path: Path, allowed: str) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    ok = values.notna().to_numpy() & (values.fillna(-1) % 1 == 0).to_numpy()
    if column == "label":
        ok &= values.isin([0, 1]).to_numpy()
    else:
        ok &= (values.fillna(0) > 0).to_numpy()
    row = _first_bad(~ok)
    if row is not None:
        raise DataValidationError(
            path,
            f"expected {allowed}, got {frame[column].iloc[row]!r}",
            line=row + 2,  # +1 for the header, +1 for 1-based lines
            field=column,
            fix="correct or remove that row",
        )
    return values.astype("int64")


def read_click_log(path: str | Path) -> pd.DataFrame:
    """Read and validate a click log; returns typed columns plus ``position`` (row order per user)."""
    path = require_file(path, "click log")
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, compression="infer")
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError) as err:
        raise DataValidationError(
            path, f"cannot be parsed as tab-separated text ({err})",
            fix="give a tab-separated file with one header row",
        ) from err
    missing = [c for c in CLICK_COLUMNS if c not in frame.columns]
    if missing:
        raise DataValidationError(
            path, f"missing column(s) {missing}; found {list(frame.columns)}", line=1,
            fix="the header row must be: label, user_id, item_id, history (tab-separated)",
        )
    frame = frame[CLICK_COLUMNS].copy()
    frame["label"] = _check_int_column(frame, "label", path, "0 or 1")
    frame["user_id"] = _check_int_column(frame, "user_id", path, "a positive integer id")
    frame["item_id"] = _check_int_column(frame, "item_id", path, "a positive integer id")
    bad = ~frame["history"].str.fullmatch(r"\d+(,\d+)*")
    row = _first_bad(bad.to_numpy())
    if row is not None:
        raise DataValidationError(
            path, f"expected comma-separated item ids or 0, got {frame['history'].iloc[row]!r}",
            line=row + 2, field="history", fix="write earlier clicks as 12,345,6 or 0 for none",
        )
    frame["history"] = frame["history"].where(frame["history"] != "0", "")
    frame.insert(2, "position", frame.groupby("user_id").cumcount().astype("int64"))
    return frame
