"""Clients from a play script: one client per speaking role, next-word prediction.

Input: the ``script_turns`` primary table (source, speaker, text, ...). Each role with at
least ``min_lines`` lines is a client (LEAF's Shakespeare benchmark takes its clients the same
way). Samples are (previous ``context`` words of the same line, next word); the last
``test_fraction`` of each role's lines is held out. Words outside the ``vocab_size`` most
frequent training words map to UNK (id 1); id 0 pads short contexts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import pandas as pd
import torch

from dcpipelines.core.data.errors import DataValidationError
from dcpipelines.core.federated.clients import ClientPartition, make_client

WORD_TABLE = "word_embedding.weight"
TOKEN = re.compile(r"[a-z']+|[.,!?;:]")
PAD, UNK = 0, 1


@dataclass
class ScriptClients:
    """Script roles as next-word clients, with the test set, vocabulary size and context length."""
    clients: list[ClientPartition]
    test_features: dict[str, torch.Tensor]
    test_labels: torch.Tensor
    vocab_size: int
    context: int


def tokenize(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens of a line."""
    return TOKEN.findall(text.lower())


def _samples(lines: list[list[int]], context: int) -> tuple[torch.Tensor, torch.Tensor]:
    ctx, target = [], []
    for ids in lines:
        padded = [PAD] * context + ids
        for j, word in enumerate(ids):
            ctx.append(padded[j : j + context])
            target.append(word)
    if not target:
        return torch.zeros((0, context), dtype=torch.long), torch.zeros(0, dtype=torch.long)
    return torch.tensor(ctx, dtype=torch.long), torch.tensor(target, dtype=torch.long)


def build_script_clients(
    turns: pd.DataFrame,
    *,
    source: str = "tinyshakespeare",
    min_lines: int = 20,
    test_fraction: float = 0.2,
    vocab_size: int = 2000,
    context: int = 4,
) -> ScriptClients:
    """One client per role of ``source`` with at least ``min_lines`` lines."""
    missing = [c for c in ("source", "speaker", "text") if c not in turns.columns]
    if missing:
        raise DataValidationError(
            "script_turns", f"missing column(s) {missing}",
            fix="run the ingest pipeline (kedro run --pipelines ingest) to rebuild script_turns",
        )
    play = turns[turns["source"] == source]
    counts = play.groupby("speaker").size()
    roles = sorted(counts.index[counts >= min_lines])
    if not roles:
        raise DataValidationError(
            "script_turns", f"no speaker of source {source!r} has {min_lines} lines",
            field="source", fix="check the source name or lower min_lines",
        )
    split: dict[str, tuple[list[list[str]], list[list[str]]]] = {}
    for role in roles:
        lines = [tokenize(t) for t in play.loc[play["speaker"] == role, "text"]]
        cut = len(lines) - max(1, int(round(test_fraction * len(lines))))
        split[role] = (lines[:cut], lines[cut:])
    freq = Counter(w for train, _ in split.values() for line in train for w in line)
    vocab = {w: i + 2 for i, (w, _) in enumerate(freq.most_common(vocab_size - 2))}

    def encode(lines: list[list[str]]) -> list[list[int]]:
        return [[vocab.get(w, UNK) for w in line] for line in lines]

    clients, test_x, test_y = [], [], []
    for client_id, role in enumerate(roles):
        train, test = split[role]
        x, y = _samples(encode(train), context)
        clients.append(make_client(client_id, {"context": x}, y, {WORD_TABLE: ["context"]}))
        tx, ty = _samples(encode(test), context)
        test_x.append(tx)
        test_y.append(ty)
    return ScriptClients(
        clients, {"context": torch.cat(test_x)}, torch.cat(test_y), vocab_size, context
    )


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of rows whose highest logit is the label."""
    return float((logits.argmax(-1) == labels).float().mean())


__all__ = ["ScriptClients", "accuracy", "build_script_clients", "tokenize"]
