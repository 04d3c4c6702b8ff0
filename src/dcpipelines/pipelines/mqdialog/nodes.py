"""Nodes of the mqdialog pipeline: thin wrappers around :mod:`dcpipelines.core.text.mqdialog`."""

from __future__ import annotations

import pandas as pd

from dcpipelines.core.text.mqdialog import (
    Thresholds,
    build_pairs,
    check_no_leakage,
    drop_unsplit_groups,
    select_speakers,
    split_pairs,
)


def _thresholds(selection: dict) -> Thresholds:
    return Thresholds(
        min_pairs_per_questioner=int(selection["min_pairs_per_questioner"]),
        min_questioners=int(selection["min_questioners"]),
        max_responders_per_source=int(selection["max_responders_per_source"]),
        max_questioners_per_responder=int(selection["max_questioners_per_responder"]),
    )


def pair_consecutive_turns(script_turns: pd.DataFrame, params: dict) -> pd.DataFrame:
    """Every (questioner, query, responder, response) pair of consecutive turns."""
    return build_pairs(
        script_turns, int(params["episode_turns"]), list(params.get("excluded_speakers") or [])
    )


def select_and_split(
    dialogue_pairs: pd.DataFrame, selection: dict, split: dict, seed: int
) -> pd.DataFrame:
    """Responders and questioners that pass the thresholds, split by episode."""
    selected = select_speakers(dialogue_pairs, _thresholds(selection))
    if selected.empty:
        raise ValueError(
            "mqdialog: no responder passes the selection thresholds "
            f"(parameters mqdialog.selection = {selection}). Fix: lower min_pairs_per_questioner "
            "or min_questioners, or add longer scripts"
        )
    assigned = split_pairs(selected, split, seed=int(seed))
    kept = drop_unsplit_groups(
        assigned, int(selection["min_train_pairs"]), int(selection["min_questioners"])
    )
    check_no_leakage(kept)
    return kept
