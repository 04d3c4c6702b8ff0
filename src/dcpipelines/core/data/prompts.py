"""Reader for text-to-image prompt sets in the PartiPrompts format.

Tab-separated with a header row that has at least ``Prompt``, ``Category`` and ``Challenge``
(``Note`` is optional). Empty prompts are errors.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dcpipelines.core.data.errors import DataValidationError, require_file

PROMPT_COLUMNS = {"Prompt": "prompt", "Category": "category", "Challenge": "challenge", "Note": "note"}
REQUIRED = ["Prompt", "Category", "Challenge"]


def read_prompts(path: str | Path) -> pd.DataFrame:
    """Read a prompt table; columns ``prompt_id, prompt, category, challenge, note``."""
    path = require_file(path, "prompt table")
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3)
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataValidationError(
            path, f"cannot be parsed as tab-separated text ({err})",
            fix="give a tab-separated file with a header row",
        ) from err
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataValidationError(
            path, f"missing column(s) {missing}; found {list(frame.columns)}", line=1,
            fix="the header row needs Prompt, Category and Challenge (tab-separated)",
        )
    if "Note" not in frame.columns:
        frame["Note"] = ""
    empty = frame["Prompt"].str.strip() == ""
    if empty.any():
        row = int(empty.to_numpy().nonzero()[0][0])
        raise DataValidationError(
            path, "empty prompt", line=row + 2, field="Prompt", fix="fill in or delete that row"
        )
    frame = frame[list(PROMPT_COLUMNS)].rename(columns=PROMPT_COLUMNS)
    frame.insert(0, "prompt_id", range(len(frame)))
    frame["prompt_id"] = frame["prompt_id"].astype("int64")
    return frame
