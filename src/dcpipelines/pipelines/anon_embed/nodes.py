"""Nodes of the anon_embed pipeline: thin wiring of :mod:`dcpipelines.core.privacy.personalise`.

Every stage runs once per run seed (``seed_list(seed, seeds)``); results are dicts keyed by
the run seed. torch is imported inside the functions to keep start-up cheap.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dcpipelines.core.seeds import derive_seed, seed_list


def variant_specs(task: dict) -> dict[str, dict]:
    """The personalised variants of one task: the named ones plus the closeness sweep."""
    specs = dict(task["variants"])
    for weight in task.get("closeness_sweep") or []:
        specs[f"anon_beta_close_{weight:g}"] = {"kind": "beta", "closeness": float(weight)}
    return specs


def classification_split(utterances: pd.DataFrame, task: dict, seed: int) -> pd.DataFrame:
    """Sentiment samples per named speaker, split by time; some speakers held out as new."""
    from dcpipelines.core.text.user_corpora import sentiment_samples, split_users_by_time

    samples = sentiment_samples(utterances, exclude_speakers=task["exclude_speakers"])
    return split_users_by_time(samples, **task["users"], seed=derive_seed(seed, "anon_embed.new_users"))


def generation_split(turns: pd.DataFrame, task: dict, seed: int) -> pd.DataFrame:
    """Next-word samples per role of one script, split by time; some roles held out as new."""
    from dcpipelines.core.text.user_corpora import next_word_samples, split_users_by_time

    samples = next_word_samples(turns, source=task["source"],
                                words_per_sample=task["words_per_sample"])
    return split_users_by_time(samples, **task["users"], seed=derive_seed(seed, "anon_embed.new_users"))


def upload_texts(split: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The training-period texts and labels as uploaded: shuffled, no user identifier."""
    from dcpipelines.core.privacy.personalise import text_uploads

    return text_uploads(split, derive_seed(seed, "anon_embed.uploads"))


def train_central_models(uploads: pd.DataFrame, task: dict, model: dict, central: dict,
                         seed: int, seeds: int) -> dict[int, Any]:
    """One central model per run seed, trained on the anonymous text uploads."""
    from dcpipelines.core.privacy.personalise import train_central

    classes = task.get("num_classes")
    return {s: train_central(uploads, unit=task["unit"], num_classes=classes,
                             model={**model, "max_len": task["max_len"]}, training=central,
                             seed=derive_seed(s, "anon_embed.central"))
            for s in seed_list(seed, seeds)}


def fine_tune_on_devices(split: pd.DataFrame, central: dict[int, Any],
                         on_device: dict) -> pd.DataFrame:
    """Each user fine-tunes its own copy of the central model (all users batched)."""
    from dcpipelines.core.privacy.personalise import on_device_scores

    return pd.concat([on_device_scores(bundle, split, on_device,
                                       derive_seed(s, "anon_embed.on_device")).assign(seed=s)
                      for s, bundle in central.items()], ignore_index=True)


def learn_user_distributions(split: pd.DataFrame, central: dict[int, Any], task: dict,
                             device: dict) -> dict[int, dict[str, Any]]:
    """Every variant's per-user embedding distributions, learnt on the devices."""
    from dcpipelines.core.privacy.personalise import learn_distributions

    return {s: {name: learn_distributions(bundle, split, spec["kind"], spec["closeness"], device,
                                          derive_seed(s, "anon_embed.device_embeddings"))
                for name, spec in variant_specs(task).items()}
            for s, bundle in central.items()}


def upload_with_embeddings(split: pd.DataFrame,
                           distributions: dict[int, dict[str, Any]]) -> tuple[dict, dict]:
    """Uploads (text, label, fresh embedding; shuffled) and, kept on the devices, their owners."""
    from dcpipelines.core.privacy.personalise import embedding_uploads

    uploads: dict = {}
    owners: dict = {}
    for s, by_variant in distributions.items():
        uploads[s], owners[s] = {}, {}
        for name, embeddings in by_variant.items():
            uploads[s][name], owners[s][name] = embedding_uploads(
                embeddings, split, derive_seed(s, "anon_embed.uploads"))
    return uploads, owners


def train_cloud_models(central: dict[int, Any], uploads: dict, cloud: dict) -> dict:
    """Per seed and variant: the central model fine-tuned on the embedding uploads."""
    from dcpipelines.core.privacy.personalise import train_cloud

    return {s: {name: train_cloud(central[s], sent, cloud, derive_seed(s, "anon_embed.cloud"))
                for name, sent in uploads[s].items()}
            for s in central}


def score_variants(split: pd.DataFrame, central: dict[int, Any], cloud_models: dict,
                   distributions: dict, on_device: pd.DataFrame) -> pd.DataFrame:
    """Per-sample test scores of every variant; new users are scored with the zero embedding."""
    from dcpipelines.core.privacy.personalise import personalised_scores

    frames = [on_device]
    for s, bundle in central.items():
        seed = derive_seed(s, "anon_embed.scoring")
        frames.append(personalised_scores(bundle, None, split, "test", "central", s))
        for name, model in cloud_models[s].items():
            scored = personalised_scores(model, distributions[s][name], split, "test", name, seed)
            frames.append(scored.assign(seed=s))
        frames.append(personalised_scores(cloud_models[s]["anon_beta"], None, split, "new",
                                          "new_user", s))
    return pd.concat(frames, ignore_index=True)


def attack_uploads(uploads: dict, owners: dict, attack: dict) -> pd.DataFrame:
    """Tracking attacks on every variant's uploads: link each query upload to its user."""
    import torch

    from dcpipelines.core.privacy.attacks import tracking_attacks

    rows = []
    for s, by_variant in uploads.items():
        for name, sent in by_variant.items():
            who = owners[s][name]
            result = tracking_attacks(
                sent["train"]["embedding"], torch.as_tensor(who["train"]),
                sent["query"]["embedding"], torch.as_tensor(who["query"]),
                int(who["train"].max()) + 1, steps=attack["linear_steps"],
                seed=derive_seed(s, "anon_embed.attack"))
            rows.append({"seed": s, "variant": name, **result})
    return pd.DataFrame(rows)


def embedding_projection(uploads: dict, owners: dict, projection: dict) -> pd.DataFrame:
    """2-D PCA of the query embeddings of a few users (first seed), per variant shown."""
    from dcpipelines.core.privacy.projection import project_embeddings

    first = min(uploads)
    return pd.concat([project_embeddings(uploads[first][name]["query"]["embedding"],
                                         owners[first][name]["query"], projection["users"],
                                         projection["points_per_user"]).assign(variant=name)
                      for name in projection["variants"]], ignore_index=True)


def measure_overhead(split: pd.DataFrame, cloud_models: dict, distributions: dict,
                     overhead: dict) -> dict[str, float]:
    """Batch-1 latency of the classifier without and with a sampled user embedding."""
    from dcpipelines.core.privacy.personalise import prefix_overhead_ms

    first = min(cloud_models)
    texts = split[split["part"] == "test"]["text"].head(overhead["texts"]).tolist()
    plain, prefixed = prefix_overhead_ms(cloud_models[first]["anon_beta"],
                                         distributions[first]["anon_beta"], texts,
                                         overhead["repeats"])
    return {"inference_without_prefix_ms": plain, "inference_with_prefix_ms": prefixed,
            "inference_overhead_pct": 100.0 * (prefixed / plain - 1.0)}
