"""Nodes of the iciia pipeline: image pools, cached backbone and features, the comparison over
seeds, the sweeps, the costs and the device models. The report lives in ``report.py``.

torch is imported inside the functions to keep start-up cheap.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from dcpipelines.core.cache import Cached, fingerprint
from dcpipelines.core.data import ImageSet
from dcpipelines.core.seeds import derive_seed, seed_list

logger = logging.getLogger(__name__)

# Bump when the feature extraction changes, so that cached features are recomputed.
FEATURES_VERSION = 1


def split_images(cifar10_images: ImageSet, data: dict[str, int], seed: int) -> dict[str, Any]:
    """Class-balanced backbone pool, client pool and test images (indices into the set)."""
    from dcpipelines.core.vision.clients import image_pools

    return image_pools(cifar10_images.labels, cifar10_images.split, **data,
                       seed=derive_seed(seed, "iciia.image_pools"))


def fit_backbone(cifar10_images: ImageSet, pools: dict[str, Any], backbone: dict[str, Any],
                 data: dict[str, int], seed: int) -> Cached:
    """The cloud backbone trained on its pool, cached under a fingerprint of the backbone
    settings, image pools, seed and a hash of the pixels and labels (the stored one is reused
    while they match)."""
    from dcpipelines.core.vision.backbone import image_digest

    digest = image_digest(cifar10_images.images, cifar10_images.labels)
    stamp = fingerprint(backbone, data, int(seed), digest)
    return Cached(stamp, lambda _stored: _train_backbone(cifar10_images, pools, backbone,
                                                          seed, stamp))


def _train_backbone(images: ImageSet, pools: dict[str, Any], backbone: dict[str, Any],
                    seed: int, stamp: str) -> dict[str, Any]:
    from dcpipelines.core.vision.backbone import BackboneSpec, pack_backbone, train_backbone

    spec = BackboneSpec(**backbone)
    idx = pools["backbone"]
    logger.info("iciia: training the backbone on %d images (%d epochs)", len(idx), spec.epochs)
    start = time.perf_counter()
    model, history = train_backbone(images.images[idx], images.labels[idx], spec,
                                    derive_seed(seed, "iciia.backbone"))
    packed = pack_backbone(model, spec, stamp, history)
    packed["train_s"] = time.perf_counter() - start
    packed["train_images"] = len(idx)
    return packed


def extract_features(cifar10_images: ImageSet, pools: dict[str, Any],
                     backbone: dict[str, Any]) -> Cached:
    """Frozen penultimate features of the client pool and test images, cached under the
    backbone's fingerprint (a new backbone or new pools give new features)."""
    stamp = fingerprint(backbone["fingerprint"], FEATURES_VERSION)
    return Cached(stamp, lambda _stored: _features(cifar10_images, pools, backbone, stamp))


def _features(images: ImageSet, pools: dict[str, Any], backbone: dict[str, Any],
              stamp: str) -> dict[str, Any]:
    import torch

    from dcpipelines.core.vision.backbone import extract_features as features_of
    from dcpipelines.core.vision.backbone import to_tensor, unpack_backbone

    model = unpack_backbone(backbone)
    pool_x, _ = features_of(model, images.images[pools["pool"]])
    test_x, test_logits = features_of(model, images.images[pools["test"]])
    test_y = images.labels[pools["test"]]
    return {
        "fingerprint": stamp,
        "pool_x": torch.from_numpy(pool_x),
        "pool_y": torch.from_numpy(images.labels[pools["pool"]].astype(np.int64)),
        "test_x": torch.from_numpy(test_x),
        "test_y": torch.from_numpy(test_y.astype(np.int64)),
        "classifier_weight": model.classifier.weight.detach().clone(),
        "classifier_bias": model.classifier.bias.detach().clone(),
        "backbone_test_acc": float((test_logits.argmax(1) == test_y).mean()),
        "example_image": to_tensor(images.images[pools["test"][:1]]),
    }


def _setup(module: dict[str, Any], training: dict[str, Any]):
    from dcpipelines.core.vision.adapt import TrainBudget
    from dcpipelines.core.vision.evaluation import Setup
    from dcpipelines.core.vision.iciia import ModuleSpec

    spec = ModuleSpec(layers=module["layers"], heads=module["heads"], dropout=module["dropout"])
    return Setup(spec, int(module["seq_len"]), int(module["partitions_t"]),
                 TrainBudget(**training), int(module["prompt_dim"]))


def _clients(features, clients: dict[str, Any], run_seed: int) -> pd.DataFrame:
    from dcpipelines.core.vision.clients import ClientSpec, build_clients

    return build_clients(features.pool_y, features.test_y, ClientSpec(**clients),
                         derive_seed(run_seed, "iciia.clients"), features.num_classes)


def compare_methods(features: dict[str, Any], clients: dict[str, Any], module: dict[str, Any],
                    training: dict[str, Any], seed: int,
                    seeds: int) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], pd.DataFrame]:
    """Backbone, ff, fine-tuning, prompt tuning, ICIIA-B, ICIIA-T and ICIIA-T without
    shuffling, once per seed (fresh clients and initialisations); per-client accuracies; the
    ICIIA modules trained with the first seed and every head's per-epoch training loss and
    validation accuracy with that seed (method, epoch, train_loss, val_acc)."""

    from dcpipelines.core.vision.evaluation import FeatureSet, compare

    fs, setup = FeatureSet.from_dict(features), _setup(module, training)
    tables, per_client, trained = [], [], {}
    curves: dict[str, list[dict[str, float]]] = {}
    for run_seed in seed_list(seed, seeds):
        start = time.perf_counter()
        table, by_client, models = compare(fs, _clients(fs, clients, run_seed), setup,
                                           derive_seed(run_seed, "iciia.training"),
                                           curves=None if trained else curves)
        logger.info("iciia: seed %d compared in %.1f s: %s", run_seed,
                    time.perf_counter() - start, dict(zip(table["method"], table["acc"].round(4), strict=True)))
        tables.append(table.assign(seed=run_seed))
        per_client.append(by_client.assign(seed=run_seed))
        trained = trained or {k: models[k] for k in ("iciia_b", "iciia_t")}
    head_curves = pd.DataFrame([{"method": m, **row} for m, rows in curves.items() for row in rows])
    return (pd.concat(tables, ignore_index=True), pd.concat(per_client, ignore_index=True),
            trained, head_curves)


def run_sweeps(features: dict[str, Any], clients: dict[str, Any], module: dict[str, Any],
               training: dict[str, Any], sweeps: dict[str, Any],
               seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One seed, on the sweep's own (smaller) share of clients and epochs: ICIIA accuracy and
    module FLOPs per image for every P with and without shuffling, and ICIIA-T accuracy for
    every sequence length L."""
    import torch

    from dcpipelines.core.vision.evaluation import FeatureSet, sweep
    from dcpipelines.core.vision.flops import count_flops
    from dcpipelines.core.vision.iciia import IciiaModule

    fs = FeatureSet.from_dict(features)
    setup = _setup(module, {**training, "epochs": sweeps["epochs"]})
    frame = _clients(fs, {**clients, "num_clients": sweeps["num_clients"]}, seed)
    values = [int(p) for p in sweeps["partitions"] if fs.dim % int(p) == 0]
    known: dict[tuple[int, bool, int], float] = {}
    partitions = sweep(fs, frame, setup, derive_seed(seed, "iciia.training"),
                       [(p, s, setup.seq_len) for p in values for s in (True, False)], known)
    context = sweep(fs, frame, setup, derive_seed(seed, "iciia.training"),
                    [(setup.partitions_t, True, int(n)) for n in sweeps["seq_lens"]], known)
    example = torch.zeros(1, setup.seq_len, fs.dim)
    flops = {p: count_flops(IciiaModule(fs.dim, fs.num_classes, replace(setup.module, partitions=p)),
                            example) / setup.seq_len for p in values}
    return partitions.assign(module_flops_per_image=partitions["partitions"].map(flops)), context


def measure_costs(backbone: dict[str, Any], features: dict[str, Any], trained: dict[str, Any],
                  module: dict[str, Any], latency: dict[str, int]) -> tuple[pd.DataFrame, dict]:
    """FLOPs (torch's FlopCounterMode), parameters and host latency of the backbone (one
    image) and of the trained ICIIA-B / ICIIA-T modules (one sequence of L images, and per
    image); the backbone and backbone + ICIIA-T as device models."""
    import torch

    from dcpipelines.core.vision.backbone import unpack_backbone
    from dcpipelines.core.vision.flops import count_flops, count_parameters, host_latency_ms
    from dcpipelines.core.vision.iciia import BackboneWithModule

    net, length, repeats = unpack_backbone(backbone), int(module["seq_len"]), int(latency["repeats"])
    image = features["example_image"]
    same_class = features["test_x"][features["test_y"] == features["test_y"][0]]
    sequence = torch.cat([net.features(image), same_class[1:length]]).unsqueeze(0)
    rows = [{"model": "backbone", "flops": count_flops(net, image), "images": 1,
             "params": count_parameters(net), "latency_ms": host_latency_ms(net, image, repeats=repeats)}]
    for name, head in trained.items():
        rows.append({"model": name, "flops": count_flops(head, sequence), "images": length,
                     "params": count_parameters(head),
                     "latency_ms": host_latency_ms(head, sequence, repeats=repeats)})
    costs = pd.DataFrame(rows)
    costs["flops_per_image"] = costs["flops"] / costs["images"]
    costs["latency_ms_per_image"] = costs["latency_ms"] / costs["images"]
    device_models = {
        "iciia_backbone": {"module": net, "example_input": image,
                           "description": "ICIIA's frozen CIFAR-10 backbone (small CNN), 32x32 RGB in"},
        "iciia_backbone_iciia_t": {
            "module": BackboneWithModule(net, trained["iciia_t"], same_class[1:length]).eval(),
            "example_input": image,
            "description": f"backbone + ICIIA-T (P={module['partitions_t']}) over the features "
                           f"of the device's {length - 1} previous images"},
    }
    return costs, device_models
