"""Nodes of the ingest pipeline: thin wrappers that shape validated raw data into tables."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from dcpipelines.core.data import ImageSet, load_digits_table  # noqa: E402
from dcpipelines.core.reporting import Claim, Report  # noqa: E402


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


def report_ingest(
    script_turns: pd.DataFrame,
    click_log: pd.DataFrame,
    t2i_prompts: pd.DataFrame,
    digits: pd.DataFrame,
    cifar10_images: ImageSet,
    params: dict,
) -> Report:
    """Row counts per primary table, with plots of how the data are spread."""
    metrics = {
        "script_turns_rows": len(script_turns),
        "script_speakers": script_turns[["source", "speaker"]].drop_duplicates().shape[0],
        "script_dialogues": script_turns[["source", "dialogue_id"]].drop_duplicates().shape[0],
        "click_log_rows": len(click_log),
        "click_log_users": click_log["user_id"].nunique(),
        "click_log_items": click_log["item_id"].nunique(),
        "click_log_click_rate": float(click_log["label"].mean()),
        "t2i_prompts_rows": len(t2i_prompts),
        "digits_rows": len(digits),
        "cifar10_train_images": int((cifar10_images.split == "train").sum()),
        "cifar10_test_images": int((cifar10_images.split == "test").sum()),
    }
    top = int(params["top_speakers"])
    figures = {
        "turns_per_speaker": _turns_per_speaker(script_turns),
        "rows_per_user": _histogram(
            click_log.groupby("user_id").size(), "click-log rows per user", "rows"
        ),
        "prompt_challenges": _bar(t2i_prompts["challenge"].value_counts(), "prompts per challenge"),
    }
    tables = {
        "Turns per script": script_turns.groupby(["source", "language"])
        .agg(turns=("turn_id", "size"), speakers=("speaker", "nunique"))
        .reset_index(),
        "Top speakers": _top_speakers(script_turns, top),
    }
    claims = [
        Claim(
            "every raw source parses and validates",
            f"{metrics['script_turns_rows']} turns, {metrics['click_log_rows']} clicks, "
            f"{metrics['t2i_prompts_rows']} prompts, {metrics['digits_rows']} digits, "
            f"{len(cifar10_images.labels)} CIFAR-10 images",
            True,
        )
    ]
    return Report("ingest", "Ingest: raw sources to primary tables", metrics, claims, figures, tables)


def _turns_per_speaker(turns: pd.DataFrame) -> plt.Figure:
    """Rank-frequency of turns per speaker, one line per script (names are in the table)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for source, group in turns.groupby("source"):
        counts = group["speaker"].value_counts().to_numpy()
        ax.loglog(range(1, len(counts) + 1), counts, marker=".", label=str(source))
    ax.set_title("turns per speaker, speakers ranked by turns")
    ax.set_xlabel("speaker rank")
    ax.set_ylabel("turns")
    ax.legend()
    fig.tight_layout()
    return fig


def _top_speakers(turns: pd.DataFrame, top: int) -> pd.DataFrame:
    counts = turns.groupby(["source", "speaker"]).size().rename("turns").reset_index()
    counts = counts.sort_values(["source", "turns", "speaker"], ascending=[True, False, True])
    return counts.groupby("source").head(top).reset_index(drop=True)


def _histogram(values: pd.Series, title: str, xlabel: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(values.to_numpy(), bins=40)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    fig.tight_layout()
    return fig


def _bar(counts: pd.Series, title: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar([str(i) for i in counts.index], counts.to_numpy())
    ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    fig.tight_layout()
    return fig
