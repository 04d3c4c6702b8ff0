"""Nodes of the ingest pipeline: thin wrappers that shape validated raw data into tables."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from dcpipelines.core.data import ImageSet, load_digits_table


def combine_scripts(scripts: dict[str, Callable[[], pd.DataFrame]]) -> pd.DataFrame:
    """Read every script partition (in name order) into one table of turns."""
    if not scripts:
        raise ValueError(
            "no script files found: the scripts folder of the catalog entry 'raw_scripts' is "
            "empty. Fix: put at least one SPEAKER: script (.txt) there"
        )
    frames = [load() for _, load in sorted(scripts.items())]
    return pd.concat(frames, ignore_index=True)


def shape_click_log(clicks: pd.DataFrame) -> pd.DataFrame:
    """Add the history length and keep each user's rows in time order."""
    table = clicks.copy()
    table["history_length"] = (
        table["history"].str.count(",").add(1).where(table["history"] != "", 0).astype("int64")
    )
    return table.sort_values(["user_id", "position"], kind="stable").reset_index(drop=True)


def tidy_prompts(prompts: pd.DataFrame) -> pd.DataFrame:
    """Strip stray whitespace from every text column of the prompt table."""
    table = prompts.copy()
    for column in ["prompt", "category", "challenge", "note"]:
        table[column] = table[column].str.strip()
    return table


def digits_table() -> pd.DataFrame:
    """The handwritten digits bundled with scikit-learn."""
    return load_digits_table()


def keep_images(images: ImageSet) -> ImageSet:
    """The decoded, validated image set (the reader did the work; stored once for all)."""
    return images


def keep_labelled_dialogue(utterances: pd.DataFrame) -> pd.DataFrame:
    """The validated labelled utterances, every column kept, in dialogue order."""
    return utterances
