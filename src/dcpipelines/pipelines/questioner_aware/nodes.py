"""Nodes of the questioner_aware pipeline. torch, transformers and sentence-transformers are
imported inside the functions so that Kedro starts fast."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd


# ---- queries: embeddings (cached) and clusters ----
def embed_queries(mqdialog_pairs: pd.DataFrame, params: dict) -> Any:
    """Sentence embeddings of every distinct query, cached (see :mod:`dcpipelines.core.cache`):
    kept while the queries stay the same, and a new query set embeds only the queries the stored
    table lacks."""
    from dcpipelines.core.cache import Cached, fingerprint

    texts = sorted(set(mqdialog_pairs["query"]))
    return Cached(fingerprint(texts), lambda stored: embed_missing(texts, stored, int(params["batch_size"])))


def embed_missing(texts: list[str], stored: pd.DataFrame | None, batch_size: int) -> pd.DataFrame:
    """One row per text with its embedding, taken from ``stored`` where it has one."""
    from dcpipelines.core.text.encoder import embed_texts

    known: dict[str, Any] = {}
    if stored is not None:
        known = dict(zip(stored["text"], stored["embedding"], strict=True))
    missing = [t for t in texts if t not in known]
    if missing:
        vectors = embed_texts(missing, batch_size=batch_size)
        known.update(zip(missing, [v.tolist() for v in vectors], strict=True))
    return pd.DataFrame({"text": texts, "embedding": [list(map(float, known[t])) for t in texts]})


def cluster_questions(mqdialog_pairs: pd.DataFrame, query_embeddings: pd.DataFrame,
                      params: dict, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """K-means on the training queries; every pair gets its query's nearest cluster."""
    from dcpipelines.core.text.clustering import assign_clusters, cluster_queries, purity

    vectors = dict(zip(query_embeddings["text"], query_embeddings["embedding"], strict=True))
    matrix = np.array([vectors[q] for q in mqdialog_pairs["query"]], dtype=np.float32)
    train = (mqdialog_pairs["split"] == "train").to_numpy()
    k = params["k"]
    fitted = cluster_queries(matrix[train], k if isinstance(k, int) else list(k), seed=int(seed))
    labels = assign_clusters(matrix, fitted.centroids)
    clustered = mqdialog_pairs.assign(cluster=labels)
    summary = clustered.groupby("cluster").agg(
        pairs=("pair_id", "size"), questioners=("questioner", "nunique"),
        english=("language", lambda s: int((s == "en").sum())),
        chinese=("language", lambda s: int((s == "zh").sum())),
    ).reset_index()
    summary.attrs.update(
        silhouette=fitted.silhouette,
        purity_language=purity(labels, clustered["language"]),
        purity_questioner=purity(labels, clustered["source"] + "|" + clustered["questioner"]),
        k=len(fitted.centroids),
    )
    summary["silhouette"] = fitted.silhouette
    summary["purity_language"] = summary.attrs["purity_language"]
    summary["purity_questioner"] = summary.attrs["purity_questioner"]
    return clustered, summary


# ---- the base decoder ----
def pretraining_corpus(script_turns: pd.DataFrame, mqdialog_pairs: pd.DataFrame) -> list[str]:
    """All script turns except those inside a validation or test pair (no test leakage)."""
    held_out = mqdialog_pairs[mqdialog_pairs["split"] != "train"]
    joined = "\x00".join([*held_out["query"], *held_out["response"]])
    return [text for text in script_turns["text"] if text not in joined]


def pretrain_base_decoder(pretraining_texts: list[str], params: dict, seed: int) -> Any:
    """The pre-trained small GPT-2, cached (rebuilt only when its settings, seed or corpus
    changed), or a reference to the local checkpoint named by ``decoder_name_or_path``."""
    from dcpipelines.core.cache import Cached, fingerprint

    if params.get("decoder_name_or_path"):
        path = str(params["decoder_name_or_path"])
        return Cached(fingerprint("local", path), lambda _stored: {"fingerprint": "local", "path": path})
    settings = {k: params[k] for k in ("layers", "hidden", "heads", "max_positions",
                                       "min_token_count", "block", "pretrain")}
    stamp = fingerprint(settings, int(seed), pretraining_texts)
    return Cached(stamp, lambda _stored: _pretrain(pretraining_texts, params, int(seed), stamp))


def _pretrain(pretraining_texts: list[str], params: dict, seed: int, stamp: str) -> dict[str, Any]:
    from dcpipelines.core.nn.decoder import DecoderSpec, build_gpt2, pack_decoder
    from dcpipelines.core.nn.training import Budget, pretrain, token_blocks
    from dcpipelines.core.text.tokenizer import WordPieceVocab

    spec = DecoderSpec(int(params["layers"]), int(params["hidden"]), int(params["heads"]),
                       int(params["max_positions"]))
    vocab = WordPieceVocab.fit(pretraining_texts, min_count=int(params["min_token_count"]))
    model = build_gpt2(len(vocab), spec, seed=int(seed))
    blocks = token_blocks(vocab, pretraining_texts, int(params["block"]))
    budget = Budget(**{k: v for k, v in params["pretrain"].items()})
    started = time.perf_counter()
    history = pretrain(model, blocks, budget, seed=int(seed))
    packed = pack_decoder(model, vocab, spec, stamp, history)
    packed["pretrain_seconds"] = time.perf_counter() - started
    return packed


def _materialise(base_decoder: dict) -> tuple[Any, Any]:
    from dcpipelines.core.nn.decoder import load_local_decoder, unpack_decoder

    if "path" in base_decoder:
        return load_local_decoder(base_decoder["path"])
    return unpack_decoder(base_decoder)


# ---- one variant: train, generate, measure ----
def variant_runner(variant: str) -> Callable[..., dict[str, Any]]:
    """The node function that trains and evaluates ``variant``."""

    def run(clustered_pairs: pd.DataFrame, base_decoder: dict, data: dict, adapters: dict,
            training: dict, contrast: dict, generation: dict, seed: int) -> dict[str, Any]:
        return train_and_generate(variant, clustered_pairs, base_decoder, data, adapters,
                                  training, contrast, generation, int(seed))

    run.__name__ = f"train_and_generate_{variant}"
    run.__qualname__ = run.__name__
    return run


def _prompt(row: Any) -> str:
    return f"{row.responder}: {row.query}"


def train_and_generate(variant: str, pairs: pd.DataFrame, base_decoder: dict, data: dict,
                       adapters: dict, training: dict, contrast: dict, generation: dict,
                       seed: int) -> dict[str, Any]:
    """Train one variant on the training split and answer the test queries."""
    import torch

    from dcpipelines.core.nn.questioner_aware import VARIANTS, AdapterSizes, QuestionerAwareLM
    from dcpipelines.core.nn.training import (
        Budget,
        ContrastSettings,
        encode_example,
        finetune,
        generate_replies,
    )

    base, codec = _materialise(base_decoder)
    keys = pairs["source"] + "|" + pairs["questioner"]
    questioner_ids = {q: i for i, q in enumerate(sorted(keys.unique()))}
    clusters = int(pairs["cluster"].max()) + 1
    rng = np.random.default_rng(seed)
    train = pairs[pairs["split"] == "train"]
    if data.get("max_train_pairs") and len(train) > int(data["max_train_pairs"]):
        train = train.iloc[np.sort(rng.choice(len(train), int(data["max_train_pairs"]), replace=False))]
    test = pairs[pairs["split"] == "test"]
    if data.get("max_test_pairs") and len(test) > int(data["max_test_pairs"]):
        test = test.iloc[np.sort(rng.choice(len(test), int(data["max_test_pairs"]), replace=False))]
    max_q, max_r = int(data["max_query_tokens"]), int(data["max_response_tokens"])

    spec = VARIANTS[variant]
    model = QuestionerAwareLM(base, spec, len(questioner_ids), clusters,
                           AdapterSizes(**adapters), seed=seed)
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    if spec.train:
        examples = []
        for row in train.itertuples():
            ids, prompt_len = encode_example(codec, _prompt(row), row.response, max_q, max_r)
            examples.append({"ids": ids, "prompt_len": prompt_len, "cluster": int(row.cluster),
                             "questioner": questioner_ids[f"{row.source}|{row.questioner}"]})
        history = finetune(model, examples, codec, Budget(**training),
                           ContrastSettings(**contrast), seed=seed)
    train_seconds = time.perf_counter() - started
    torch.manual_seed(seed)
    prompts = [encode_example(codec, _prompt(r), None, max_q, max_r)[0] for r in test.itertuples()]
    who = [questioner_ids[f"{r.source}|{r.questioner}"] for r in test.itertuples()]
    new_tokens = int(generation["max_new_tokens"])
    replies = generate_replies(model, codec, prompts, who, new_tokens,
                       no_repeat_ngram=int(generation["no_repeat_ngram"]))
    table = test[["pair_id", "language", "responder", "questioner", "query", "response"]].assign(
        reply=replies, variant=variant
    )
    awareness = None
    if spec.questioner_tower or spec.id_prefix:
        awareness = _ask_as_everyone(model, codec, test, pairs, questioner_ids, prompts,
                                     int(data["awareness_queries"]), new_tokens, generation, rng)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"variant": variant, "replies": table, "history": history, "awareness": awareness,
            "train_seconds": train_seconds, "trainable_parameters": trainable if spec.train else 0}


def _ask_as_everyone(model: Any, codec: Any, test: pd.DataFrame, pairs: pd.DataFrame,
                     questioner_ids: dict[str, int], prompts: list[list[int]], count: int,
                     new_tokens: int, generation: dict, rng: np.random.Generator) -> dict:
    """Answer a sample of test queries once per questioner of their responder."""
    from dcpipelines.core.nn.training import generate_replies

    train = pairs[pairs["split"] == "train"]
    askers = train.groupby(["source", "responder"])["questioner"].agg(lambda s: sorted(set(s)))
    chosen = np.sort(rng.choice(len(test), min(count, len(test)), replace=False))
    jobs, owners = [], []
    for i in chosen:
        row = test.iloc[i]
        for name in askers[(row["source"], row["responder"])]:
            jobs.append((prompts[i], questioner_ids[f"{row['source']}|{name}"]))
            owners.append((int(i), name))
    texts = generate_replies(model, codec, [p for p, _ in jobs], [q for _, q in jobs], new_tokens,
                     no_repeat_ngram=int(generation["no_repeat_ngram"]))
    answers: dict[int, dict[str, str]] = {}
    for (i, name), text in zip(owners, texts, strict=True):
        answers.setdefault(i, {})[name] = text
    return {
        "answers": [answers[int(i)] for i in chosen],
        "references": [test.iloc[int(i)]["response"] for i in chosen],
        "questioners": [test.iloc[int(i)]["questioner"] for i in chosen],
        "queries": [test.iloc[int(i)]["query"] for i in chosen],
        "responders": [test.iloc[int(i)]["responder"] for i in chosen],
    }
