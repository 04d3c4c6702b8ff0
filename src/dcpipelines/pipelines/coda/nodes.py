"""Nodes of the coda pipeline: device data and cloud pool, cloud model, matching, filtering,
per-user fine-tuning, evaluation, device cost.

Every step runs once per run seed (``seed_list(seed, seeds)``); results are dicts keyed by the
run seed. torch is imported inside the functions so that importing the pipeline stays cheap.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dcpipelines.core.seeds import derive_seed, seed_list


def _samples(click_log: pd.DataFrame, data: dict, seed: int, part: str) -> Any:
    from dcpipelines.core.recsys.samples import samples_from_rows
    from dcpipelines.core.recsys.split import split_users

    split = split_users(click_log, test_per_user=data["test_per_user"],
                        num_users=data.get("num_users"),
                        seed=derive_seed(seed, "coda.user_sample"))
    users = np.sort(split.train["user_id"].unique())
    return samples_from_rows(getattr(split, part), users, data["max_history"], split.num_items)


def device_data(click_log: pd.DataFrame, data: dict, seed: int) -> tuple[Any, Any]:
    """Each device's own samples: its earlier rows (training) and its last rows (test)."""
    return _samples(click_log, data, seed, "train"), _samples(click_log, data, seed, "test")


def cloud_pool(click_log: pd.DataFrame, data: dict, seed: int) -> Any:
    """The cloud's global pool: every user's training rows (the cloud's own logs)."""
    return _samples(click_log, data, seed, "train")


def train_cloud_models(pool: Any, model: dict, seed: int,
                       seeds: int) -> tuple[dict[int, Any], pd.DataFrame]:
    """One cloud DIN per run seed, trained on the whole pool; its loss per epoch
    (seed, epoch, loss)."""

    from dcpipelines.core.recsys.training import train_cloud_model

    models, rows = {}, []
    for s in seed_list(seed, seeds):
        losses: list[float] = []
        models[s] = train_cloud_model(pool, **model, seed=derive_seed(s, "coda.cloud_training"),
                                      losses=losses)
        rows += [{"seed": s, "epoch": e, "loss": v} for e, v in enumerate(losses, start=1)]
    return models, pd.DataFrame(rows)


def upload_interests(local: Any, cloud_models: dict[int, Any]) -> dict[int, Any]:
    """What goes up for matching: one interest embedding per device (d floats)."""
    from dcpipelines.core.recsys.coda import user_interests

    return {s: user_interests(model, local) for s, model in cloud_models.items()}


def retrieved_sizes(matching: dict) -> list[int]:
    """The retrieval sizes of the run: the default one first, then the sweep."""
    return [matching["retrieved_per_user"]] + [
        k for k in matching["sweep"] if k != matching["retrieved_per_user"]]


def match_in_cloud(pool: Any, cloud_models: dict[int, Any], interests: dict[int, Any],
                   matching: dict) -> dict[int, Any]:
    """Coarse matching per run seed; what goes down to each device."""
    from dcpipelines.core.recsys.coda import cloud_downloads

    k_max = max(retrieved_sizes(matching))
    return {s: cloud_downloads(model, pool, interests[s], k=k_max,
                               outside=matching["outside_per_user"],
                               seed=derive_seed(s, "coda.downloads"))
            for s, model in cloud_models.items()}


def filter_on_device(local: Any, cloud_models: dict[int, Any], downloads: dict[int, Any],
                     sample_filter: dict) -> dict[int, Any]:
    """Each device's personalised sample classifier; (U, k_max) keep masks per run seed."""

    from dcpipelines.core.recsys.coda import filter_retrieved

    return {s: filter_retrieved(model, local, downloads[s], k=downloads[s].retrieved_per_user,
                                **sample_filter)
            for s, model in cloud_models.items()}


def personalise_and_evaluate(local: Any, test: Any, cloud_models: dict[int, Any],
                             downloads: dict[int, Any], keep: dict[int, Any], matching: dict,
                             finetune: dict) -> pd.DataFrame:
    """Per user AUC of every variant, per run seed (and, for the first seed, per retrieval size)."""

    from dcpipelines.core.recsys import coda

    fields = coda.test_fields(test)
    sizes = retrieved_sizes(matching)
    frames = []
    for i, (s, model) in enumerate(cloud_models.items()):
        for k in sizes if i == 0 else sizes[:1]:
            sets = coda.variant_sets(local, downloads[s], keep[s][:, :k], k)
            scores = {}
            if k == sizes[0]:
                scores["cloud_global"] = coda.cloud_scores(model, fields)
            else:
                sets = {v: sets[v] for v in matching["sweep_variants"]}
            scores.update({v: coda.personalised_scores(
                model, part, fields, **finetune, seed=derive_seed(s, "coda.finetune"))
                for v, part in sets.items()})
            frames += [_user_frame(fields, v, sc, s, k) for v, sc in scores.items()]
    return pd.concat(frames, ignore_index=True)


def _user_frame(fields: dict, variant: str, scores: Any, seed: int, k: int) -> pd.DataFrame:
    users, per_user = fields["label"].shape
    return pd.DataFrame({
        "seed": seed, "variant": variant, "retrieved": k,
        "user": np.repeat(np.arange(users), per_user),
        "label": fields["label"].reshape(-1).numpy().astype(np.int8),
        "score": scores.reshape(-1).numpy().astype(np.float64),
    })


def filter_quality(test: Any, pool: Any, downloads: dict[int, Any], keep: dict[int, Any],
                   matching: dict) -> pd.DataFrame:
    """Per run seed: retrieved and kept samples, and the share relevant before and after."""
    from dcpipelines.core.recsys.relevance import relevant_retrieved

    k = matching["retrieved_per_user"]
    rows = []
    for s, d in downloads.items():
        relevant = relevant_retrieved(pool, test, d.retrieved_rows[:, :k])
        mask = keep[s][:, :k]
        rows.append({
            "seed": s, "retrieved_per_user": float(k),
            "kept_per_user": float(mask.sum(1).float().mean()),
            "retrieved_precision": float(relevant.float().mean()),
            "filter_precision": float(relevant[mask].float().mean()) if mask.any() else 0.0,
        })
    return pd.DataFrame(rows)


def device_cost(local: Any, cloud_models: dict[int, Any], downloads: dict[int, Any],
                interests: dict[int, Any], matching: dict, sample_filter: dict, finetune: dict,
                cost: dict) -> dict[str, float]:
    """One device's cost in ``coda``: training time (measured, one user at a time, one
    thread), training FLOPs, the phone estimate, and the bytes down and up."""
    import time

    from torch.utils.flop_counter import FlopCounterMode

    from dcpipelines.core.devices.profiles import PROFILES
    from dcpipelines.core.recsys.coda import one_device_coda

    seed, model = next(iter(cloud_models.items()))
    k = matching["retrieved_per_user"]
    users = np.random.default_rng(derive_seed(seed, "coda.timing_users")).choice(
        local.num_users, min(cost["timing_users"], local.num_users), replace=False)

    def train(user: int) -> None:
        one_device_coda(model, local.of_user(int(user)), downloads[seed].of_user(int(user)),
                        k=k, sample_filter=sample_filter, steps=finetune["steps"],
                        batch_size=finetune["batch_size"], lr=finetune["lr"],
                        seed=derive_seed(seed, "coda.finetune"))

    with FlopCounterMode(display=False) as counter:
        train(users[0])
    start = time.perf_counter()
    for user in users:
        train(user)
    ms = (time.perf_counter() - start) * 1e3 / len(users)
    d = downloads[seed]
    down = d.bytes_per_user("retrieved") * k // d.retrieved_per_user + d.bytes_per_user("outside")
    model_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    phone = PROFILES[cost["phone_profile"]]
    flops = float(counter.get_total_flops())
    return {
        "device_train_ms_per_user": ms,
        "device_train_flops_per_user": flops,
        "phone_train_est_ms_per_user": flops / (phone.peak_gflops * 1e9 * phone.efficiency) * 1e3,
        "download_bytes_per_user": float(down),
        "upload_bytes_per_user": float(interests[seed].shape[1] * 4),
        "model_download_bytes": float(model_bytes),
        "phone_download_s": phone.transfer_s(down),
        "phone_model_download_s": phone.transfer_s(model_bytes),
    }


def hand_device_model(local: Any, test: Any, cloud_models: dict[int, Any],
                      downloads: dict[int, Any], matching: dict, sample_filter: dict,
                      finetune: dict) -> dict[str, dict]:
    """The personal model one device ends up with in ``coda`` (the first user, first seed),
    for on_device: ``{name: {module, example_input, description}}``."""
    import torch

    from dcpipelines.core.recsys.coda import one_device_coda

    seed, model = next(iter(cloud_models.items()))
    module = one_device_coda(model, local.of_user(0), downloads[seed].of_user(0),
                             k=matching["retrieved_per_user"], sample_filter=sample_filter,
                             steps=finetune["steps"], batch_size=finetune["batch_size"],
                             lr=finetune["lr"], seed=derive_seed(seed, "coda.finetune")).eval()
    row = test.of_user(0)
    example = torch.cat([row.item[:1].unsqueeze(1), row.history[:1]], dim=1)
    return {"coda_personal_din": {
        "module": module, "example_input": example,
        "description": "CoDA personal DIN of one user: cloud item table, the user's dense "
                       "layers and item offsets; input (1, 1 + history) item ids",
    }}
