"""Candidate replies for the questioner-discrimination check: does a model's likelihood put
the reply written for the true questioner above replies the same responder wrote to other
questioners? (A check that does not rest on n-gram overlap.)"""

from __future__ import annotations

import numpy as np
import pandas as pd


def rival_replies(pairs: pd.DataFrame, max_rivals: int, rng: np.random.Generator) -> pd.DataFrame:
    """One row per candidate: ``pair_id`` (a test pair), ``language``, ``candidate`` (a reply
    text) and ``own`` (whether it is the pair's own reply).

    Rivals come from held-out pairs (validation and test, never trained on) of the same
    responder with other questioners: one reply per other questioner, at most ``max_rivals``
    questioners (drawn at random). Test pairs without any rival are left out.
    """
    if max_rivals < 1:
        raise ValueError(f"max_rivals must be at least 1, got {max_rivals}")
    held_out = pairs[pairs["split"] != "train"]
    pools = {key: part for key, part in held_out.groupby(["source", "responder"], sort=True)}
    rows = []
    for pair in pairs[pairs["split"] == "test"].itertuples():
        pool = pools[(pair.source, pair.responder)]
        others = pool[(pool["questioner"] != pair.questioner) & (pool["response"] != pair.response)]
        names = sorted(set(others["questioner"]))
        if not names:
            continue
        if len(names) > max_rivals:
            names = sorted(rng.choice(names, max_rivals, replace=False).tolist())
        rows.append((pair.pair_id, pair.language, pair.response, True))
        for name in names:
            texts = others.loc[others["questioner"] == name, "response"].tolist()
            rows.append((pair.pair_id, pair.language, texts[int(rng.integers(len(texts)))], False))
    return pd.DataFrame(rows, columns=["pair_id", "language", "candidate", "own"])
