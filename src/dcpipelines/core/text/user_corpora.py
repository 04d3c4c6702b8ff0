"""Per-user text tasks from dialogue tables: users are speakers, each split by time.

Every task is one table with a row per sample: ``user`` (0..U-1 for users the models are
trained for, -1 for new users held out of all training), ``speaker``, ``text``, ``label``
(class index, or -1 for next-word tasks), ``part`` (``train``, ``val`` = the device's local
validation share of its training period, ``test`` = the later period, ``new`` = all samples of
a held-out user) and ``order`` (time order within the speaker).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dcpipelines.core.data.labelled_dialogue import SENTIMENTS

TASK_COLUMNS = ["user", "speaker", "text", "label", "part", "order"]


def split_users_by_time(samples: pd.DataFrame, *, min_samples: int, max_users: int | None,
                        new_users: int, test_fraction: float, val_fraction: float,
                        seed: int) -> pd.DataFrame:
    """Keep the speakers with at least ``min_samples`` samples (most active first), hold
    ``new_users`` of them out entirely, and split every other speaker's samples by time."""
    counts = samples["speaker"].value_counts()
    ranked = sorted(counts[counts >= min_samples].index, key=lambda s: (-counts[s], s))
    ranked = ranked[:max_users] if max_users else ranked
    if len(ranked) < new_users + 2:
        raise ValueError(f"only {len(ranked)} speakers have {min_samples}+ samples; need at "
                         f"least {new_users + 2} (lower min_samples or new_users)")
    rng = np.random.default_rng(seed)
    held_out = set(rng.choice(ranked, size=new_users, replace=False).tolist()) if new_users else set()
    known = [s for s in ranked if s not in held_out]
    frames = []
    for speaker in ranked:
        own = samples[samples["speaker"] == speaker].sort_values("order", kind="stable").copy()
        if speaker in held_out:
            own["user"], own["part"] = -1, "new"
        else:
            n = len(own)
            n_test = max(1, int(round(test_fraction * n)))
            part = np.array(["train"] * (n - n_test) + ["test"] * n_test, dtype=object)
            train_rows = np.arange(n - n_test)
            n_val = max(1, int(round(val_fraction * len(train_rows))))
            part[rng.choice(train_rows, size=n_val, replace=False)] = "val"
            own["user"], own["part"] = known.index(speaker), part
        frames.append(own)
    table = pd.concat(frames, ignore_index=True)
    table["user"] = table["user"].astype("int64")
    return table[TASK_COLUMNS].reset_index(drop=True)


def sentiment_samples(utterances: pd.DataFrame, *, exclude_speakers: list[str]) -> pd.DataFrame:
    """Utterance -> sentiment class samples, named speakers only, in dialogue order."""
    named = utterances[~utterances["speaker"].isin(exclude_speakers)]
    return pd.DataFrame({
        "speaker": named["speaker"].to_numpy(),
        "text": named["utterance"].to_numpy(),
        "label": named["sentiment"].map({s: i for i, s in enumerate(SENTIMENTS)}).to_numpy(),
        "order": named["position"].to_numpy(),
    })


def next_word_samples(turns: pd.DataFrame, *, source: str, words_per_sample: int) -> pd.DataFrame:
    """Each turn of one script cut into pieces of ``words_per_sample`` words, in script order."""
    script = turns[turns["source"] == source].sort_values("turn_id", kind="stable")
    rows = []
    for speaker, turn_id, text in script[["speaker", "turn_id", "text"]].itertuples(index=False):
        words = text.split()
        for piece, start in enumerate(range(0, len(words), words_per_sample)):
            rows.append((speaker, " ".join(words[start : start + words_per_sample]),
                         int(turn_id) * 1000 + piece))
    if not rows:
        raise ValueError(f"no turns of script {source!r} in the script table")
    frame = pd.DataFrame(rows, columns=["speaker", "text", "order"])
    frame["label"] = -1
    return frame
