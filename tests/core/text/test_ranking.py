"""Rival replies for the questioner rank check: held-out, same responder, other questioners."""

import numpy as np
import pandas as pd
import pytest

from dcpipelines.core.text.ranking import rival_replies


def pairs() -> pd.DataFrame:
    rows = [
        ("t1", "R", "A", "reply a test", "test"), ("t2", "R", "B", "reply b test", "test"),
        ("v1", "R", "C", "reply c val", "val"), ("tr", "R", "D", "reply d train", "train"),
        ("s1", "S", "E", "reply e test", "test"), ("s2", "S", "F", "reply e test", "val"),
    ]
    return pd.DataFrame([{"pair_id": p, "source": "play", "language": "en", "responder": r,
                          "questioner": q, "query": "hello?", "response": text, "split": split}
                         for p, r, q, text, split in rows])


def test_rivals_are_held_out_replies_of_the_same_responder_to_other_questioners():
    table = rival_replies(pairs(), 5, np.random.default_rng(0))
    t1 = table[table["pair_id"] == "t1"]
    assert t1.loc[t1["own"], "candidate"].tolist() == ["reply a test"]
    assert sorted(t1.loc[~t1["own"], "candidate"]) == ["reply b test", "reply c val"]  # never train
    # a rival with the very same text as the own reply is no rival: s1 has none and is left out
    assert "s1" not in set(table["pair_id"])
    assert table.groupby("pair_id")["own"].sum().eq(1).all()


def test_the_number_of_rivals_is_capped():
    table = rival_replies(pairs(), 1, np.random.default_rng(0))
    assert table.groupby("pair_id").size().max() == 2
    with pytest.raises(ValueError, match="max_rivals"):
        rival_replies(pairs(), 0, np.random.default_rng(0))
