"""The mqdialog report: metrics, claims, plots and tables (the wiring lives in nodes.py)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from dcpipelines.core.plotting import new_figure
from dcpipelines.core.reporting import Claim, Report
from dcpipelines.core.text.mqdialog import (
    SPLITS,
    dataset_statistics,
)

PAPER_STATS = "12 responders, 173 questioners, about 26k pairs (English and Chinese scripts, chat log)"


def report_mqdialog(
    dialogue_pairs: pd.DataFrame, mqdialog_pairs: pd.DataFrame, selection: dict
) -> Report:
    """The data set table in the paper's form, counts as metrics, and the split sizes."""
    stats = dataset_statistics(mqdialog_pairs)
    stats.insert(0, "label", [f"R{i + 1}" for i in range(len(stats) - 1)] + ["total"])
    pairs = mqdialog_pairs
    groups = pairs.groupby(["source", "responder", "questioner"]).size()
    metrics = {
        "num_candidate_pairs": len(dialogue_pairs),
        "num_pairs": len(pairs),
        "num_responders": pairs[["source", "responder"]].drop_duplicates().shape[0],
        "num_questioners": pairs[["source", "questioner"]].drop_duplicates().shape[0],
        "num_responder_questioner_groups": len(groups),
        "num_episodes": pairs["episode"].nunique(),
        **{f"num_{s}_pairs": int((pairs["split"] == s).sum()) for s in SPLITS},
        "min_pairs_per_group": int(groups.min()),
    }
    leaking = int((pairs.groupby("episode")["split"].nunique() > 1).sum())
    claims = [
        Claim(
            f"MQDialog: {PAPER_STATS}",
            f"{metrics['num_responders']} responders, {metrics['num_questioners']} questioners, "
            f"{metrics['num_pairs']} pairs from the shipped scripts (English and Chinese)",
            None,
        ),
        Claim(
            "no dialogue leaks across train/val/test",
            f"{leaking} of {metrics['num_episodes']} episodes span two splits",
            leaking == 0,
        ),
        Claim(
            "every kept (responder, questioner) group meets the pair threshold",
            f"smallest group: {metrics['min_pairs_per_group']} pairs "
            f"(threshold {selection['min_pairs_per_questioner']})",
            metrics["min_pairs_per_group"] >= int(selection["min_pairs_per_questioner"]),
        ),
    ]
    notes = (
        "Pairs are consecutive turns of two different speakers in one episode (a dialogue cut "
        "into bounded runs of turns; tiny-shakespeare has almost no dialogue breaks, so episodes "
        "are what keeps the split free of leakage). Whole episodes go to one split; within that "
        "constraint each (responder, questioner) group is split close to the fractions. Groups "
        "left without training or test pairs are dropped, then responders left with too few "
        "questioners."
    )
    return Report(
        "mqdialog",
        "MQDialog-style data set built from the shipped scripts",
        metrics,
        claims,
        figures={"pairs_per_responder": _pairs_per_responder(stats)},
        tables={"Data set statistics (paper's table form)": stats},
        notes=notes,
    )


def _pairs_per_responder(stats: pd.DataFrame) -> Figure:
    """Stacked split sizes per responder, labelled R1.. as in the statistics table (the plot
    fonts may lack CJK glyphs, so names stay in the table)."""
    rows = stats[stats["label"] != "total"].set_index("label")
    fig, ax = new_figure(width=6, height=3.5)
    rows[list(SPLITS)].plot.bar(stacked=True, ax=ax)
    ax.set_title("pairs per responder and split")
    ax.set_xlabel("responder (see the statistics table)")
    ax.set_ylabel("pairs")
    return fig
