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


def reply_identifiability(pairs: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    """How much a reply alone says about who it answers: for each responder, a bag-of-words
    logistic regression (words lower-cased, one token per CJK character) learns the questioner
    from the responder's training replies. One row per test pair that has candidates:
    ``correct`` (the classifier gives the pair's questioner a strictly higher probability for
    the own reply than for every rival, the rank check without a language model),
    ``classified`` (the classifier's top questioner for the own reply is the true one) and
    ``majority`` (the responder's most frequent training questioner is the true one).
    Responders with fewer than two training questioners are left out."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    from dcpipelines.core.text.metrics import metric_tokens

    train = pairs[pairs["split"] == "train"]
    test = pairs.set_index("pair_id")
    rows = []
    for (source, responder), part in train.groupby(["source", "responder"], sort=True):
        if part["questioner"].nunique() < 2:
            continue
        words = CountVectorizer(analyzer=metric_tokens, binary=True)
        fitted = LogisticRegression(max_iter=2000).fit(words.fit_transform(part["response"]),
                                                       part["questioner"])
        known = list(fitted.classes_)
        majority = part["questioner"].value_counts().sort_index().idxmax()
        mine = (test["source"] == source) & (test["responder"] == responder)
        asked = candidates[candidates["pair_id"].isin(test.index[mine])]
        for pair_id, group in asked.groupby("pair_id", sort=True):
            questioner = test.at[pair_id, "questioner"]
            if questioner not in known:
                continue
            probs = fitted.predict_proba(words.transform(group["candidate"]))
            mine = probs[:, known.index(questioner)]
            own = group["own"].to_numpy()
            rows.append((pair_id, test.at[pair_id, "language"],
                         float(mine[own][0] > mine[~own].max()),
                         float(known[int(probs[own][0].argmax())] == questioner),
                         float(majority == questioner), 1.0 / len(group)))
    return pd.DataFrame(rows, columns=["pair_id", "language", "correct", "classified", "majority",
                                       "chance"])
