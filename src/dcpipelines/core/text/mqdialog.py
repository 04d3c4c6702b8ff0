"""Build a multi-questioner dialogue data set (the MQDialog shape) from speaker-tagged scripts.

A pair is (questioner, query, responder, response): two consecutive turns of one dialogue by
two different speakers. Dialogues are cut into episodes of a bounded number of turns; an
episode is the unit of the train/val/test split, so no stretch of dialogue is seen in two
splits, while every (responder, questioner) group still gets its share of each split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dcpipelines.core.data.errors import DataValidationError

TURN_COLUMNS = ["source", "language", "dialogue_id", "turn_id", "speaker", "text"]
PAIR_COLUMNS = [
    "pair_id", "source", "language", "episode", "questioner", "query", "responder", "response",
]
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Thresholds:
    """Which responders and questioners enter the data set (see ``parameters_mqdialog.yml``)."""

    min_pairs_per_questioner: int = 5  # pairs a questioner needs with a responder
    min_questioners: int = 3  # qualified questioners a responder needs
    max_responders_per_source: int = 3  # keep the responders with most pairs
    max_questioners_per_responder: int = 12  # keep the questioners with most pairs


def check_turns(turns: pd.DataFrame) -> None:
    """Fail with the missing column named when the turns table is not the ingest shape."""
    missing = [c for c in TURN_COLUMNS if c not in turns.columns]
    if missing:
        raise DataValidationError(
            "script_turns", f"missing columns {missing}", field=missing[0],
            fix="re-run the ingest pipeline (kedro run --pipelines ingest) to rebuild the table",
        )


def merge_speaker_runs(turns: pd.DataFrame) -> pd.DataFrame:
    """Join consecutive turns of the same speaker in one dialogue into one turn."""
    check_turns(turns)
    ordered = turns.sort_values(["source", "dialogue_id", "turn_id"], kind="stable")
    new_run = (
        (ordered["speaker"] != ordered["speaker"].shift())
        | (ordered["dialogue_id"] != ordered["dialogue_id"].shift())
        | (ordered["source"] != ordered["source"].shift())
    )
    ordered = ordered.assign(run=new_run.cumsum())
    merged = ordered.groupby("run", sort=True).agg(
        source=("source", "first"),
        language=("language", "first"),
        dialogue_id=("dialogue_id", "first"),
        turn_id=("turn_id", "first"),
        speaker=("speaker", "first"),
        text=("text", list),
    )
    separator = np.where(merged["language"] == "zh", "", " ")
    merged["text"] = [sep.join(parts) for sep, parts in zip(separator, merged["text"], strict=True)]
    return merged.reset_index(drop=True)


def build_pairs(
    turns: pd.DataFrame, episode_turns: int, excluded_speakers: list[str] | None = None
) -> pd.DataFrame:
    """All (questioner, query, responder, response) pairs of consecutive turns.

    Dialogues are cut into episodes of ``episode_turns`` merged turns; pairs never cross an
    episode. Pairs in which either speaker is in ``excluded_speakers`` (for example a catch-all
    "other" speaker) are dropped, but those turns still separate their neighbours.
    """
    if episode_turns < 2:
        raise ValueError(f"episode_turns must be at least 2 (one pair), got {episode_turns}")
    merged = merge_speaker_runs(turns)
    position = merged.groupby(["source", "dialogue_id"]).cumcount()
    merged["episode"] = (
        merged["source"] + ":" + merged["dialogue_id"].astype(str) + ":"
        + (position // episode_turns).astype(str)
    )
    previous = merged.shift()
    same_episode = merged["episode"] == previous["episode"]
    pairs = pd.DataFrame(
        {
            "pair_id": merged["source"] + ":" + merged["turn_id"].astype(str),
            "source": merged["source"],
            "language": merged["language"],
            "episode": merged["episode"],
            "questioner": previous["speaker"],
            "query": previous["text"],
            "responder": merged["speaker"],
            "response": merged["text"],
        }
    )[same_episode]
    excluded = set(excluded_speakers or [])
    keep = ~pairs["questioner"].isin(excluded) & ~pairs["responder"].isin(excluded)
    return pairs[keep].reset_index(drop=True)[PAIR_COLUMNS]


def select_speakers(pairs: pd.DataFrame, thresholds: Thresholds) -> pd.DataFrame:
    """Keep the responders with enough qualified questioners, and those questioners' pairs."""
    counts = pairs.groupby(["source", "responder", "questioner"]).size().rename("n").reset_index()
    counts = counts[counts["n"] >= thresholds.min_pairs_per_questioner]
    counts = counts.sort_values(["source", "responder", "n", "questioner"],
                                ascending=[True, True, False, True])
    counts = counts.groupby(["source", "responder"]).head(thresholds.max_questioners_per_responder)
    per_responder = counts.groupby(["source", "responder"]).agg(
        questioners=("questioner", "size"), n=("n", "sum")
    ).reset_index()
    per_responder = per_responder[per_responder["questioners"] >= thresholds.min_questioners]
    per_responder = per_responder.sort_values(["source", "n", "responder"],
                                              ascending=[True, False, True])
    per_responder = per_responder.groupby("source").head(thresholds.max_responders_per_source)
    kept = counts.merge(per_responder[["source", "responder"]], on=["source", "responder"])
    selected = pairs.merge(kept[["source", "responder", "questioner"]],
                           on=["source", "responder", "questioner"])
    return selected.sort_values("pair_id", kind="stable").reset_index(drop=True)


def split_pairs(
    pairs: pd.DataFrame, fractions: dict[str, float], seed: int
) -> pd.DataFrame:
    """Assign whole episodes to train/val/test so each (responder, questioner) group is split
    close to ``fractions``; returns ``pairs`` with a ``split`` column.

    Greedy: episodes in a seeded random order each go to the split whose targets the episode's
    pairs most need (largest total deficit over its groups), so no episode spans two splits.
    """
    shares = np.array([float(fractions[s]) for s in SPLITS])
    if (shares < 0).any() or not np.isclose(shares.sum(), 1.0):
        raise ValueError(f"split fractions must be >= 0 and sum to 1, got {fractions}")
    groups = pairs["source"] + "|" + pairs["responder"] + "|" + pairs["questioner"]
    group_codes, group_names = pd.factorize(groups)
    totals = np.bincount(group_codes, minlength=len(group_names)).astype(float)
    targets = totals[:, None] * shares[None, :]
    filled = np.zeros_like(targets)
    episodes = pairs["episode"].to_numpy()
    order = pd.unique(episodes)
    rng = np.random.default_rng(seed)
    order = order[rng.permutation(len(order))]
    rows_of = pd.Series(np.arange(len(pairs))).groupby(episodes).apply(np.asarray)
    split_of = np.empty(len(pairs), dtype=object)
    for episode in order:
        rows = rows_of[episode]
        episode_groups = np.bincount(group_codes[rows], minlength=len(group_names))
        touched = np.nonzero(episode_groups)[0]
        deficit = (targets[touched] - filled[touched]) / np.maximum(totals[touched, None], 1)
        choice = int(np.argmax((deficit * episode_groups[touched, None]).sum(axis=0)))
        filled[touched, choice] += episode_groups[touched]
        split_of[rows] = SPLITS[choice]
    return pairs.assign(split=split_of)


def drop_unsplit_groups(pairs: pd.DataFrame, min_train: int, min_questioners: int) -> pd.DataFrame:
    """Drop (responder, questioner) groups with fewer than ``min_train`` training or no test
    pairs (a questioner the model cannot learn or cannot be scored on adds nothing), then the
    responders left with fewer than ``min_questioners`` questioners."""
    keys = ["source", "responder", "questioner"]
    counts = pd.crosstab([pairs[k] for k in keys], pairs["split"]).reindex(
        columns=list(SPLITS), fill_value=0
    )
    good = counts[(counts["train"] >= min_train) & (counts["test"] >= 1)].reset_index()[keys]
    per_responder = good.groupby(["source", "responder"])["questioner"].transform("size")
    good = good[per_responder >= min_questioners]
    kept = pairs.merge(good, on=keys)
    return kept.sort_values("pair_id", kind="stable").reset_index(drop=True)


def check_no_leakage(pairs: pd.DataFrame) -> None:
    """Raise when an episode (a stretch of dialogue) appears in more than one split."""
    spread = pairs.groupby("episode")["split"].nunique()
    leaking = spread[spread > 1]
    if not leaking.empty:
        raise AssertionError(f"episodes in several splits: {list(leaking.index[:5])}")


def dataset_statistics(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per-responder statistics in the form of the paper's data set table, with a total row."""
    length = np.where(pairs["language"] == "zh", 1, 0)
    sized = pairs.assign(
        query_len=np.where(length == 1, pairs["query"].str.len(), pairs["query"].str.split().str.len()),
        response_len=np.where(length == 1, pairs["response"].str.len(),
                              pairs["response"].str.split().str.len()),
    )
    table = sized.groupby(["language", "source", "responder"]).agg(
        questioners=("questioner", "nunique"),
        pairs=("pair_id", "size"),
        train=("split", lambda s: int((s == "train").sum())),
        val=("split", lambda s: int((s == "val").sum())),
        test=("split", lambda s: int((s == "test").sum())),
        mean_query_len=("query_len", "mean"),
        mean_response_len=("response_len", "mean"),
    ).reset_index()
    total = {
        "language": "all", "source": "all", "responder": f"{len(table)} responders",
        "questioners": sized[["source", "questioner"]].drop_duplicates().shape[0],
        "pairs": len(sized),
        **{s: int((sized["split"] == s).sum()) for s in SPLITS},
        "mean_query_len": float(sized["query_len"].mean()),
        "mean_response_len": float(sized["response_len"].mean()),
    }
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    return table.round({"mean_query_len": 1, "mean_response_len": 1})
