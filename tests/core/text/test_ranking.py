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


def test_identifiability_finds_the_questioner_named_in_the_reply():
    """Replies address their questioner by name: the bag-of-words classifier ranks the own
    reply first and classifies it; a responder with one questioner is left out."""
    from dcpipelines.core.text.ranking import reply_identifiability

    rows = []
    for k in range(40):
        who = "ABC"[k % 3]
        split = "test" if k >= 30 else "train"
        rows.append({"pair_id": f"p{k}", "source": "play", "language": "en", "responder": "R",
                     "questioner": who, "query": "hello?", "split": split,
                     "response": f"well met good {who.lower()}friend number {k}"})
    rows.append({"pair_id": "solo", "source": "play", "language": "en", "responder": "S",
                 "questioner": "A", "query": "?", "split": "train", "response": "hm"})
    table = pd.DataFrame(rows)
    candidates = rival_replies(table, 2, np.random.default_rng(0))
    found = reply_identifiability(table, candidates)
    assert set(found["pair_id"]) == set(candidates["pair_id"]) and len(found) == 10
    assert found["correct"].mean() == 1.0 and found["classified"].mean() == 1.0
    assert found["chance"].eq(1 / 3).all() and found["majority"].mean() < 0.5
