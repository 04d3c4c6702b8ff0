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
                                       "min_token_count", "block", "pretrain", "dropout") if k in params}
    stamp = fingerprint(settings, int(seed), pretraining_texts)
    return Cached(stamp, lambda _stored: _pretrain(pretraining_texts, params, int(seed), stamp))


def _pretrain(pretraining_texts: list[str], params: dict, seed: int, stamp: str) -> dict[str, Any]:
    from dcpipelines.core.nn.allocator import reuse_freed_memory
    from dcpipelines.core.nn.decoder import DecoderSpec, build_gpt2, pack_decoder
    from dcpipelines.core.nn.training import Budget, pretrain, token_blocks
    from dcpipelines.core.text.tokenizer import WordPieceVocab

    reuse_freed_memory()  # the step's logits outgrow malloc's mmap threshold

    spec = DecoderSpec(int(params["layers"]), int(params["hidden"]), int(params["heads"]),
                       int(params["max_positions"]), float(params.get("dropout", 0.1)))
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


def base_decoder_perplexity(base_decoder: dict, mqdialog_pairs: pd.DataFrame) -> dict[str, float]:
    """Perplexity of the base decoder on the held-out turns (queries and replies of validation
    and test pairs, which pre-training left out), per language and overall."""
    from dcpipelines.core.nn.training import held_out_log_loss

    base, codec = _materialise(base_decoder)
    held_out = mqdialog_pairs[mqdialog_pairs["split"] != "train"]
    losses = {str(language): held_out_log_loss(base, codec, [*part["query"], *part["response"]])
              for language, part in held_out.groupby("language")}
    out = {language: float(np.exp(total / max(count, 1))) for language, (total, count) in losses.items()}
    total, count = (sum(v) for v in zip(*losses.values(), strict=True))
    out["all"] = float(np.exp(total / max(count, 1)))
    return out


def rank_candidates(clustered_pairs: pd.DataFrame, ranking: dict, seed: int) -> pd.DataFrame:
    """For each test pair: its own reply and, for each other questioner of the same responder
    (up to ``max_rivals``), one reply the responder gave that questioner in a held-out pair."""
    from dcpipelines.core.seeds import derive_seed
    from dcpipelines.core.text.ranking import rival_replies

    rng = np.random.default_rng(derive_seed(int(seed), "questioner_aware.rank_candidates"))
    return rival_replies(clustered_pairs, int(ranking["max_rivals"]), rng)


def reply_identifiability(clustered_pairs: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    """How well a bag-of-words classifier tells the questioner from the reply alone, on the
    rank check's candidates: what any model could hope for in the rank check."""
    from dcpipelines.core.text.ranking import reply_identifiability as identify

    return identify(clustered_pairs, candidates)


# ---- one variant: train, generate, measure, once per seed ----
def variant_runner(variant: str) -> Callable[..., dict[str, Any]]:
    """The node function that trains and evaluates ``variant`` once per run seed (no runs
    when ``runs.variants`` leaves the variant out)."""

    def run(clustered_pairs: pd.DataFrame, base_decoder: dict, candidates: pd.DataFrame,
            data: dict, finetune: dict, generation: dict, runs: dict, seed: int) -> dict[str, Any]:
        from dcpipelines.core.seeds import seed_list

        if variant not in runs["variants"]:
            return {"variant": variant, "runs": []}
        done: list[dict[str, Any]] = []
        for run_seed in seed_list(int(seed), int(runs["seeds"])):
            # an untrained variant scores the same on every seed: rank it once; the answers of
            # every questioner to a few queries (a table and two descriptive figures): first seed
            reuse = done[0]["rank"] if done and not done[0]["trained"] else None
            asked = {**data, "awareness_queries": 0} if done else data
            done.append(train_and_generate(variant, clustered_pairs, base_decoder, candidates, asked,
                                           finetune, generation, run_seed, rank=reuse))
        return {"variant": variant, "runs": done}

    run.__name__ = f"train_and_generate_{variant}"
    run.__qualname__ = run.__name__
    return run


def _prompt(row: Any, anonymous: bool = False) -> str:
    """The prompt of a pair; ``anonymous``: the responder's name alone (no query)."""
    return f"{row.responder}:" if anonymous else f"{row.responder}: {row.query}"


def _ids(pairs: pd.DataFrame) -> tuple[dict[str, int], dict[str, int]]:
    questioners = sorted((pairs["source"] + "|" + pairs["questioner"]).unique())
    responders = sorted((pairs["source"] + "|" + pairs["responder"]).unique())
    return {q: i for i, q in enumerate(questioners)}, {r: i for i, r in enumerate(responders)}


def _examples(table: pd.DataFrame, codec: Any, data: dict, ids: tuple[dict, dict], clusters: int,
              within_clusters: bool, replies: Any = None, anonymous: bool = False) -> list[dict[str, Any]]:
    """Encoded examples of ``table`` (its own replies, or ``replies`` in their place);
    ``anonymous``: prompted by the responder's name alone, from no questioner."""
    from dcpipelines.core.nn.training import encode_example

    questioner_ids, responder_ids = ids
    texts = table["response"] if replies is None else replies
    rows = []
    for row, reply in zip(table.itertuples(), texts, strict=True):
        token_ids, prompt_len = encode_example(codec, _prompt(row, anonymous), reply, int(data["max_query_tokens"]),
                                               int(data["max_response_tokens"]))
        responder = responder_ids[f"{row.source}|{row.responder}"]
        rows.append({"ids": token_ids, "prompt_len": prompt_len, "cluster": int(row.cluster),
                     "questioner": -1 if anonymous else questioner_ids[f"{row.source}|{row.questioner}"],
                     "group": responder * clusters + int(row.cluster) if within_clusters else responder})
    return rows


def train_and_generate(variant: str, pairs: pd.DataFrame, base_decoder: dict,
                       candidates: pd.DataFrame, data: dict, finetune: dict, generation: dict,
                       seed: int, rank: pd.DataFrame | None = None) -> dict[str, Any]:
    """Train one variant on the training split (run seed ``seed``), answer every test query,
    and rank each test pair's own reply against its rivals by likelihood (or take ``rank``,
    the ranking of an earlier seed of an untrained variant)."""
    from dcpipelines.core.nn.allocator import reuse_freed_memory
    from dcpipelines.core.nn.questioner_aware import VARIANTS, AdapterSizes, QuestionerAwareLM
    from dcpipelines.core.nn.training import Budget, ContrastSettings
    from dcpipelines.core.nn.training import finetune as train_adapters

    reuse_freed_memory()

    base, codec = _materialise(base_decoder)
    ids = _ids(pairs)
    clusters = int(pairs["cluster"].max()) + 1
    spec = VARIANTS[variant]
    groups = len(ids[1]) * (clusters if spec.within_clusters else 1)
    model = QuestionerAwareLM(base, spec, len(ids[0]), clusters, AdapterSizes(**finetune["adapters"]),
                              seed=seed, groups=groups)
    train = pairs[pairs["split"] == "train"]
    if data.get("max_train_pairs") and len(train) > int(data["max_train_pairs"]):
        rng = np.random.default_rng(seed)
        train = train.iloc[np.sort(rng.choice(len(train), int(data["max_train_pairs"]), replace=False))]
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    if spec.train:
        examples = _examples(train, codec, data, ids, clusters, spec.within_clusters)
        history = train_adapters(model, examples, codec, Budget(**finetune["training"]),
                                 ContrastSettings(**finetune["contrast"]), seed=seed)
    train_seconds = time.perf_counter() - started
    test = pairs[pairs["split"] == "test"]
    return {
        "seed": seed, "history": history, "train_seconds": train_seconds, "trained": spec.train,
        "replies": _answer(model, codec, test, ids, data, generation, seed),
        "rank": rank if rank is not None else _rank(model, codec, pairs, candidates, ids, data, clusters),
        "awareness": _ask_as_everyone(model, codec, test, pairs, ids, data,
                                      generation_config(generation), seed),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad)
        if spec.train else 0,
    }


def _answer(model: Any, codec: Any, test: pd.DataFrame, ids: tuple[dict, dict], data: dict,
            generation: dict, seed: int) -> pd.DataFrame:
    """Replies to every test query (and, for questioner-aware variants, a sample of them asked
    by every questioner of the responder)."""
    from dcpipelines.core.nn.training import encode_example, generate_replies
    from dcpipelines.core.seeds import derive_seed

    config = generation_config(generation)
    prompts = [encode_example(codec, _prompt(r), None, int(data["max_query_tokens"]), 0)[0]
               for r in test.itertuples()]
    who = [ids[0][f"{r.source}|{r.questioner}"] for r in test.itertuples()]
    replies = generate_replies(model, codec, prompts, who, config,
                               seed=derive_seed(seed, "questioner_aware.sampling"))
    return test[["pair_id", "language", "responder", "questioner", "query", "response"]].assign(
        reply=replies)


def generation_config(generation: dict) -> Any:
    """The ``transformers.GenerationConfig`` of the replies (settings from the parameters)."""
    from transformers import GenerationConfig

    return GenerationConfig(**generation)


def _rank(model: Any, codec: Any, pairs: pd.DataFrame, candidates: pd.DataFrame,
          ids: tuple[dict, dict], data: dict, clusters: int) -> pd.DataFrame:
    """Per test pair: whether the model puts its own reply first among the candidates, all
    scored as answers to the pair's query from the pair's questioner: by mean token
    log-likelihood (``correct``), and by the reply's log-likelihood minus its log-likelihood
    after the responder's name alone from nobody in particular (``correct_pmi``: pointwise
    mutual information, which does not favour short, generic replies)."""
    from dcpipelines.core.nn.training import reply_log_probs

    asked = pairs.set_index("pair_id").loc[candidates["pair_id"]].reset_index()
    examples = _examples(asked, codec, data, ids, clusters, True, replies=candidates["candidate"])
    sums, counts = reply_log_probs(model, codec, examples)
    generic = asked.assign(candidate=candidates["candidate"].to_numpy()).drop_duplicates(
        ["source", "responder", "candidate"])
    prior_sums, _ = reply_log_probs(model, codec, _examples(
        generic, codec, data, ids, clusters, True, replies=generic["candidate"], anonymous=True))
    prior = dict(zip(zip(generic["source"], generic["responder"], generic["candidate"], strict=True),
                     prior_sums, strict=True))
    keys = zip(asked["source"], asked["responder"], candidates["candidate"], strict=True)
    scored = candidates.assign(
        score=np.asarray(sums) / np.maximum(np.asarray(counts), 1),
        pmi=np.asarray(sums) - np.asarray([prior[k] for k in keys]))
    own = scored[scored["own"]].set_index("pair_id")
    rivals = scored[~scored["own"]].groupby("pair_id").agg(
        best=("score", "max"), best_pmi=("pmi", "max"), size=("score", "size"))
    own = own.loc[rivals.index]
    return pd.DataFrame({
        "pair_id": rivals.index.to_numpy(), "language": own["language"].to_numpy(),
        "correct": (own["score"] > rivals["best"]).to_numpy().astype(float),
        "correct_pmi": (own["pmi"] > rivals["best_pmi"]).to_numpy().astype(float),
        "chance": 1.0 / (1 + rivals["size"].to_numpy()),
    })


def _ask_as_everyone(model: Any, codec: Any, test: pd.DataFrame, pairs: pd.DataFrame,
                     ids: tuple[dict, dict], data: dict, config: Any, seed: int) -> dict | None:
    """A sample of test queries answered once per (training) questioner of their responder."""
    from dcpipelines.core.nn.training import encode_example, generate_replies
    from dcpipelines.core.seeds import derive_seed

    count = int(data.get("awareness_queries") or 0)
    if count == 0 or not model.spec.questioner_aware or test.empty:
        return None
    train = pairs[pairs["split"] == "train"]
    askers = train.groupby(["source", "responder"])["questioner"].agg(lambda s: sorted(set(s)))
    rng = np.random.default_rng(derive_seed(seed, "questioner_aware.awareness"))
    chosen = test.iloc[np.sort(rng.choice(len(test), min(count, len(test)), replace=False))]
    jobs = [(row, name) for row in chosen.itertuples() for name in askers[(row.source, row.responder)]]
    prompts = [encode_example(codec, _prompt(row), None, int(data["max_query_tokens"]), 0)[0]
               for row, _ in jobs]
    who = [ids[0][f"{row.source}|{name}"] for row, name in jobs]
    texts = generate_replies(model, codec, prompts, who, config,
                             seed=derive_seed(seed, "questioner_aware.sampling"))
    answers: dict[str, dict[str, str]] = {}
    for (row, name), text in zip(jobs, texts, strict=True):
        answers.setdefault(row.pair_id, {})[name] = text
    return {
        "answers": [answers[p] for p in chosen["pair_id"]],
        "references": chosen["response"].tolist(), "questioners": chosen["questioner"].tolist(),
        "queries": chosen["query"].tolist(), "responders": chosen["responder"].tolist(),
    }
