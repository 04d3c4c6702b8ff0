"""Pair construction, speaker selection and the leakage-free split of the MQDialog builder."""

import numpy as np
import pandas as pd
import pytest

from dcpipelines.core.data import DataValidationError, parse_script
from dcpipelines.core.text.mqdialog import (
    Thresholds,
    build_pairs,
    check_no_leakage,
    drop_unsplit_groups,
    merge_speaker_runs,
    select_speakers,
    split_pairs,
)

SCRIPT = """\
ANNE:
Good morrow, sir.

BOB SMITH:
Good morrow.
How fare you?

BOB SMITH:
I said, how fare you?

ANNE:
Well.

OTHER:
A noise.

ANNE:
Who is there?


CARL:
A new scene.

ANNE:
Indeed.
"""


def turns_of(text: str, source: str = "play", language: str = "en") -> pd.DataFrame:
    rows = [
        {"source": source, "language": language, "dialogue_id": t.dialogue_id,
         "turn_id": i, "speaker": t.speaker, "text": t.text, "line": t.line}
        for i, t in enumerate(parse_script(text.splitlines(), source))
    ]
    return pd.DataFrame(rows)


def test_pairs_are_consecutive_turns_of_different_speakers_within_a_dialogue():
    pairs = build_pairs(turns_of(SCRIPT), episode_turns=50, excluded_speakers=["OTHER"])
    triples = list(zip(pairs["questioner"], pairs["responder"], pairs["query"], strict=True))
    assert triples == [
        ("ANNE", "BOB SMITH", "Good morrow, sir."),
        ("BOB SMITH", "ANNE", "Good morrow. How fare you? I said, how fare you?"),
        ("CARL", "ANNE", "A new scene."),
    ]
    # the excluded speaker's turns are dropped as pairs but still separate their neighbours
    assert not ((pairs["questioner"] == "ANNE") & (pairs["response"] == "Who is there?")).any()
    # no pair across the dialogue break (two blank lines before CARL)
    assert "Who is there?" not in pairs["query"].tolist()


def test_episodes_bound_pairs():
    turns = turns_of("\n\n".join(f"{'AB'[i % 2]}:\nline {i}" for i in range(12)))
    pairs = build_pairs(turns, episode_turns=4)
    assert pairs["episode"].nunique() == 3
    assert len(pairs) == 9  # 3 pairs per 4-turn episode, none across an episode edge


def test_chinese_runs_are_joined_without_spaces():
    turns = turns_of("甲:\n你好\n\n甲:\n在吗\n\n乙:\n在", language="zh")
    assert merge_speaker_runs(turns)["text"].tolist() == ["你好在吗", "在"]


def test_malformed_script_is_reported_with_its_line():
    with pytest.raises(DataValidationError, match="line 4"):
        list(parse_script("ANNE:\nhello\n\nno speaker line here\n".splitlines(), "bad.txt"))


def test_missing_column_is_a_clear_error():
    with pytest.raises(DataValidationError, match="speaker"):
        build_pairs(turns_of(SCRIPT).drop(columns="speaker"), episode_turns=5)


def synthetic_pairs(seed: int = 0) -> pd.DataFrame:
    """Responder R answers questioners with different pair counts; R2 has too few questioners."""
    rng = np.random.default_rng(seed)
    rows = []
    plan = {("R", "Q1"): 40, ("R", "Q2"): 30, ("R", "Q3"): 20, ("R", "Q4"): 3,
            ("R2", "Q1"): 25, ("R2", "Q2"): 2}
    for (responder, questioner), n in plan.items():
        for k in range(n):
            episode = f"s:{int(rng.integers(0, 40))}"
            rows.append({"pair_id": f"{responder}{questioner}{k:03d}", "source": "s",
                         "language": "en", "episode": episode, "questioner": questioner,
                         "query": "q", "responder": responder, "response": "r"})
    return pd.DataFrame(rows)


def test_selection_respects_thresholds():
    selected = select_speakers(synthetic_pairs(), Thresholds(5, 3, 5, 10))
    groups = selected.groupby(["responder", "questioner"]).size()
    assert set(groups.index) == {("R", "Q1"), ("R", "Q2"), ("R", "Q3")}
    assert groups.min() >= 5
    capped = select_speakers(synthetic_pairs(), Thresholds(5, 2, 5, 2))
    assert set(capped.groupby(["responder", "questioner"]).size().index) == {("R", "Q1"), ("R", "Q2")}


def test_split_keeps_episodes_whole_and_follows_fractions():
    pairs = select_speakers(synthetic_pairs(), Thresholds(5, 3, 5, 10))
    split = split_pairs(pairs, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=3)
    check_no_leakage(split)
    assert (split.groupby("episode")["split"].nunique() == 1).all()
    share = split["split"].value_counts(normalize=True)
    assert abs(share["train"] - 0.6) < 0.15 and share["test"] > 0.05
    assert split_pairs(pairs, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=3).equals(split)


def test_leak_check_catches_an_episode_in_two_splits():
    pairs = pd.DataFrame({"episode": ["e1", "e1"], "split": ["train", "test"]})
    with pytest.raises(AssertionError, match="e1"):
        check_no_leakage(pairs)


def test_groups_without_test_pairs_are_dropped_with_their_thin_responders():
    pairs = pd.DataFrame({
        "pair_id": list("abcdefgh"), "source": "s", "responder": "R",
        "questioner": ["Q1", "Q1", "Q1", "Q2", "Q2", "Q2", "Q3", "Q3"],
        "split": ["train", "train", "test", "train", "train", "test", "train", "train"],
    })
    assert set(drop_unsplit_groups(pairs, 2, 2)["questioner"]) == {"Q1", "Q2"}
    assert drop_unsplit_groups(pairs, 2, 3).empty


def test_bad_fractions_are_rejected():
    with pytest.raises(ValueError, match="sum to 1"):
        split_pairs(synthetic_pairs(), {"train": 0.9, "val": 0.2, "test": 0.1}, seed=0)
