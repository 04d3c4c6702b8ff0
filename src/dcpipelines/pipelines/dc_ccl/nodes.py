"""Nodes of the dc_ccl pipeline: who holds which samples, the cloud's large submodel and its
mimics, the collaborative rounds on the device, the baselines, the evaluation and the audit.

Every training node runs once per run seed (``seed_list(seed, seeds)``) and returns its
models by seed. torch is imported inside the functions to keep start-up cheap.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dcpipelines.core.seeds import derive_seed, seed_list

# the collaborative variants: which small-model spec (of params:models) runs on the device,
# and whether the cloud tunes the co-submodel's last layer after averaging (the ablation
# dc_ccl_no_tune skips that step and shares dc_ccl's mimic)
DEVICE_FAMILY = {"dc_ccl": "small", "dc_ccl_hetero": "hetero_small", "dc_ccl_no_tune": "small"}
TUNED = {"dc_ccl": True, "dc_ccl_hetero": True, "dc_ccl_no_tune": False}
# the variants whose models and traffic the device would actually see
DEPLOYED = ("dc_ccl", "dc_ccl_hetero")
FAMILIES = ("small", "hetero_small")


def _side_split(images: Any, data: dict, seed: int) -> Any:
    from dcpipelines.core.vision.sides import split_sides

    return split_sides(
        images.labels, images.split, data["cloud_classes"],
        train_per_class=data["train_per_class"], holdout_per_class=data["holdout_per_class"],
        device_cloud_class_share=data["device_cloud_class_share"],
        test_per_class=data["test_per_class"], seed=derive_seed(seed, "dc_ccl.split"))


def _samples(images: Any, rows: Any) -> Any:
    from dcpipelines.core.vision.dcccl import to_samples

    return to_samples(images.images[rows], images.labels[rows], len(images.class_names))


def select_cloud_samples(images: Any, data: dict, seed: int) -> tuple[Any, Any]:
    """The cloud's training samples (its classes) and a held-out set of the same classes."""
    split = _side_split(images, data, seed)
    return _samples(images, split.cloud), _samples(images, split.cloud_holdout)


def select_device_samples(images: Any, data: dict, seed: int) -> Any:
    """The device's fresh samples: the other classes plus a share of cloud-class images."""
    return _samples(images, _side_split(images, data, seed).device)


def select_joint_test(images: Any, data: dict, seed: int) -> Any:
    """The joint test set: CIFAR-10 test images of every class."""
    return _samples(images, _side_split(images, data, seed).test)


def _fresh(spec: dict, num_classes: int, seed: int) -> Any:
    import torch

    from dcpipelines.core.vision.model_specs import build_model

    torch.manual_seed(seed)
    return build_model(spec, num_classes)


def train_cloud_large_submodel(cloud: Any, models: dict, training: dict, seed: int,
                               seeds: int) -> dict[int, Any]:
    """The large cloud-side submodel, trained on the cloud's samples, per run seed."""
    from dcpipelines.core.vision.dcccl import TrainConfig, train_classifier

    out = {}
    for s in seed_list(seed, seeds):
        run_seed = derive_seed(s, "dc_ccl.cloud_training")
        model = _fresh(models["large"], cloud.num_classes, run_seed)
        out[s] = train_classifier(model, cloud, TrainConfig.from_params(training), seed=run_seed)
    return out


def distil_mimics(large: dict[int, Any], cloud: Any, models: dict,
                  distillation: dict) -> dict[str, dict[int, Any]]:
    """Per device model spec (``small``, ``hetero_small``) and seed, a light mimic of the
    large submodel (MSE on logits over the cloud's samples)."""
    from dcpipelines.core.vision.dcccl import TrainConfig, distil_mimic, predict_logits

    cfg = TrainConfig.from_params(distillation)
    out: dict[str, dict[int, Any]] = {f: {} for f in FAMILIES}
    for s, teacher in large.items():
        targets = predict_logits(teacher, cloud.x)
        run_seed = derive_seed(s, "dc_ccl.mimic")
        for family in FAMILIES:
            mimic = _fresh(models[family], cloud.num_classes, run_seed)
            out[family][s] = distil_mimic(mimic, cloud.x, targets, cfg, seed=run_seed)
    return out


def measure_mimic_fidelity(large: dict[int, Any], mimics: dict[str, dict[int, Any]],
                           holdout: Any) -> pd.DataFrame:
    """Logit MSE and top-1 agreement of each mimic with the large submodel, on held-out
    cloud samples."""
    from dcpipelines.core.vision.dcccl import mimic_fidelity, predict_logits

    rows = []
    for s, teacher in large.items():
        target = predict_logits(teacher, holdout.x)
        for family, by_seed in mimics.items():
            fid = mimic_fidelity(predict_logits(by_seed[s], holdout.x), target)
            rows.append({"family": family, "seed": s, **fid})
    return pd.DataFrame(rows)


def open_cloud_rounds(cloud: Any, mimics: dict[str, dict[int, Any]],
                      rounds: dict) -> dict[str, dict[int, Any]]:
    """The cloud's half of each round (train a copy, tune the last layer), per device model
    spec and seed; it sees only co-submodel weights coming in."""
    from dcpipelines.core.vision.dcccl import CloudRounds, TrainConfig, predict_logits

    train = TrainConfig.from_params({**rounds, "epochs": rounds["local_epochs"]})
    tune = TrainConfig.from_params({**rounds, "epochs": rounds["tune_epochs"],
                                    "lr": rounds["tune_lr"]})
    return {family: {s: CloudRounds(cloud, predict_logits(m, cloud.x), train, tune)
                     for s, m in by_seed.items()} for family, by_seed in mimics.items()}


def run_collaborative_rounds(device: Any, mimics: dict[str, dict[int, Any]],
                             cloud_rounds: dict[str, dict[int, Any]], models: dict,
                             rounds: dict) -> dict[str, dict[int, list]]:
    """DC-CCL on the device: per variant and seed, the co-submodel's state after each round."""
    from dcpipelines.core.vision.dcccl import (
        TrainConfig,
        collaborative_rounds,
        predict_logits,
        zero_last_layer,
    )

    device_train = TrainConfig.from_params({**rounds, "epochs": rounds["local_epochs"]})
    out: dict[str, dict[int, list]] = {}
    for variant, family in DEVICE_FAMILY.items():
        out[variant] = {}
        for s, mimic in mimics[family].items():
            run_seed = derive_seed(s, "dc_ccl.rounds")
            co = zero_last_layer(_fresh(models[family], device.num_classes, run_seed))
            out[variant][s] = collaborative_rounds(
                co, device, predict_logits(mimic, device.x), cloud_rounds[family][s],
                rounds["rounds"], seed=run_seed, device_train=device_train,
                tune=TUNED[variant])
    return out


def _train_per_round(data: Any, spec: dict, rounds: dict, run_seed: int,
                     zero_head: bool) -> list:
    import copy

    from dcpipelines.core.vision.dcccl import (
        TrainConfig,
        round_seed,
        train_classifier,
        zero_last_layer,
    )

    model = _fresh(spec, data.num_classes, run_seed)
    if zero_head:
        zero_last_layer(model)
    cfg = TrainConfig.from_params({**rounds, "epochs": rounds["local_epochs"]})
    states = []
    for r in range(int(rounds["rounds"])):
        train_classifier(model, data, cfg, seed=round_seed(run_seed, r))
        states.append(copy.deepcopy(model.state_dict()))
    return states


def train_co_without_mimic(device: Any, models: dict, rounds: dict, seed: int,
                           seeds: int) -> dict[int, list]:
    """Naive fusion: the co-submodel trained on device samples alone (no mimic output added),
    same epochs as DC-CCL's device copies; served later as ``cloud + co``."""
    return {s: _train_per_round(device, models["small"], rounds,
                                derive_seed(s, "dc_ccl.co_no_mimic"), zero_head=True)
            for s in seed_list(seed, seeds)}


def train_device_only(device: Any, models: dict, rounds: dict, seed: int,
                      seeds: int) -> dict[int, list]:
    """The small model trained on the device's samples alone, same epochs."""
    return {s: _train_per_round(device, models["small"], rounds,
                                derive_seed(s, "dc_ccl.device_only"), zero_head=False)
            for s in seed_list(seed, seeds)}


def train_centralized(cloud: Any, device: Any, models: dict, training: dict, seed: int,
                      seeds: int) -> dict[int, Any]:
    """The upper bound that breaks both rules: the large model on pooled cloud and device
    samples, with the cloud submodel's budget (epochs) and initialisation."""
    from dcpipelines.core.vision.dcccl import TrainConfig, pooled, train_classifier

    data = pooled(cloud, device)
    out = {}
    for s in seed_list(seed, seeds):
        run_seed = derive_seed(s, "dc_ccl.cloud_training")
        model = _fresh(models["large"], data.num_classes, run_seed)
        out[s] = train_classifier(model, data, TrainConfig.from_params(training), seed=run_seed)
    return out


def _load(spec: dict, num_classes: int, state: dict) -> Any:
    from dcpipelines.core.vision.model_specs import build_model

    model = build_model(spec, num_classes)
    model.load_state_dict(state)
    return model.eval()


def evaluate_variants(large: dict[int, Any], co_states: dict[str, dict[int, list]],
                      co_no_mimic: dict[int, list], device_only: dict[int, list],
                      centralized: dict[int, Any], test: Any, models: dict,
                      data: dict) -> pd.DataFrame:
    """Accuracy on the joint test set (overall, cloud classes, device classes) per variant,
    seed and round; fused variants are served as ``cloud(x) + co(x)``."""
    from dcpipelines.core.vision.dcccl import predict_logits, side_accuracy

    n = test.num_classes
    rows = []

    def add(variant: str, s: int, r: int, logits: Any) -> None:
        acc = side_accuracy(logits, test.y, data["cloud_classes"])
        rows.append({"variant": variant, "seed": s, "round": r, **acc})

    for s, cloud in large.items():
        cloud_logits = predict_logits(cloud, test.x)
        last = len(co_no_mimic[s])
        add("cloud_only", s, last, cloud_logits)
        add("centralized", s, last, predict_logits(centralized[s], test.x))
        fused = {**co_states, "co_no_mimic": {s: co_no_mimic[s]}}
        for variant, by_seed in fused.items():
            spec = models[DEVICE_FAMILY.get(variant, "small")]
            for r, state in enumerate(by_seed[s], start=1):
                add(variant, s, r, cloud_logits + predict_logits(_load(spec, n, state), test.x))
        for r, state in enumerate(device_only[s], start=1):
            add("device_only", s, r, predict_logits(_load(models["small"], n, state), test.x))
    return pd.DataFrame(rows)


def _first(by_seed: dict[int, Any]) -> Any:
    return by_seed[min(by_seed)]


def measure_link_traffic(large: dict[int, Any], mimics: dict[str, dict[int, Any]],
                         co_states: dict[str, dict[int, list]], models: dict,
                         rounds: dict) -> pd.DataFrame:
    """Bytes that cross the link per round for each collaborative variant: the co-submodel
    down and up every round, the mimic down once (amortised over the rounds), no samples."""
    from dcpipelines.core.vision.dcccl import state_bytes
    from dcpipelines.core.vision.flops import count_parameters

    big = _first(large)
    rows = []
    for variant in DEPLOYED:
        by_seed = co_states[variant]
        mimic = _first(mimics[DEVICE_FAMILY[variant]])
        co = _load(models[DEVICE_FAMILY[variant]], mimic.classifier.out_features,
                   _first(by_seed)[-1])
        co_bytes, mimic_bytes = state_bytes(co), state_bytes(mimic)
        rows.append({
            "variant": variant, "rounds": int(rounds["rounds"]),
            "co_submodel_bytes": co_bytes, "mimic_bytes": mimic_bytes,
            "large_submodel_bytes": state_bytes(big),
            "downlink_bytes_per_round": co_bytes + mimic_bytes / int(rounds["rounds"]),
            "uplink_bytes_per_round": co_bytes,
            "co_submodel_params": count_parameters(co), "mimic_params": count_parameters(mimic),
            "large_submodel_params": count_parameters(big),
        })
    return pd.DataFrame(rows)


def estimate_device_cost(device: Any, mimics: dict[str, dict[int, Any]], models: dict,
                         rounds: dict) -> pd.DataFrame:
    """Device-side cost of one round: FLOPs to train the co-submodel on every device sample
    (forward + backward, FlopCounterMode) plus the mimic's forward pass, and the estimated
    time of that round on each device profile."""
    from dcpipelines.core.vision.flops import count_parameters
    from dcpipelines.core.vision.training_cost import (
        forward_flops_per_sample,
        round_time_estimates,
        training_flops_per_sample,
    )

    example = device.x[:2]
    rows = []
    for variant in DEPLOYED:
        mimic = _first(mimics[DEVICE_FAMILY[variant]])
        co = _fresh(models[DEVICE_FAMILY[variant]], device.num_classes, 0)
        per_sample = training_flops_per_sample(co, example) + forward_flops_per_sample(
            mimic, example)
        samples = len(device) * int(rounds["local_epochs"])
        weight_bytes = 4 * (count_parameters(co) + count_parameters(mimic))
        batches = -(-samples // int(rounds["batch_size"]))
        estimates = round_time_estimates(per_sample * samples, 3 * weight_bytes * batches,
                                         weight_bytes / 2**20)
        rows.append({"variant": variant, "train_flops_per_sample": per_sample,
                     "samples_per_round": samples, "flops_per_round": per_sample * samples,
                     **{f"est_round_seconds_{k}": v for k, v in estimates.items()}})
    return pd.DataFrame(rows)


def export_device_models(co_states: dict[str, dict[int, list]],
                         mimics: dict[str, dict[int, Any]], models: dict) -> dict[str, dict]:
    """The models that run on the device (co-submodels after the last round, mimics), for
    ``on_device``: ``{name: {module, example_input, description}}``, first run seed."""
    import torch

    out = {}
    for variant in DEPLOYED:
        by_seed = co_states[variant]
        mimic = _first(mimics[DEVICE_FAMILY[variant]])
        n = mimic.classifier.out_features
        family = models[DEVICE_FAMILY[variant]]["family"]
        co = _load(models[DEVICE_FAMILY[variant]], n, _first(by_seed)[-1])
        example = torch.zeros(1, 3, 32, 32)
        out[f"{variant}_co_submodel"] = {
            "module": co, "example_input": example,
            "description": f"{variant}: {family} co-submodel trained on the device"}
        out[f"{variant}_mimic"] = {
            "module": mimic.eval(), "example_input": example,
            "description": f"{variant}: {family} mimic of the cloud's large submodel"}
    return out


def hand_cloud_model(large: dict[int, Any]) -> dict[str, dict]:
    """The cloud's large submodel (first run seed), logged and registered as an MLflow model:
    it never leaves the cloud, so it is not a device model."""
    import torch

    return {"dc_ccl_large_submodel": {
        "module": _first(large).eval(), "example_input": torch.zeros(1, 3, 32, 32),
        "description": "dc_ccl: the cloud's large submodel (normalised 32x32 RGB in, logits "
                       "over the 10 classes; trained on the cloud's classes only)"}}


def audit_uplink(device: Any, cloud: Any) -> dict[str, int]:
    """Raw samples that cross to the cloud, read off this pipeline's graph: the samples of
    every device dataset a cloud-tagged node reads (and, apart, an upper-bound node), and
    the device nodes that read a large cloud-only model."""
    from dcpipelines.pipelines.boundary import (
        CLOUD_TAG,
        device_datasets_read_by,
        downlink_violations,
    )
    from dcpipelines.pipelines.dc_ccl.pipeline import UPPER_BOUND_TAG, create_pipeline

    graph = create_pipeline()
    sizes = {"dc_ccl.device_samples": len(device)}

    def count(tag: str) -> int:
        names = device_datasets_read_by(graph, tag)
        unknown = [n for n in names if n not in sizes]
        if unknown:
            raise ValueError(f"audit_uplink: no sample count for device datasets {unknown}")
        return sum(sizes[n] for n in names)

    return {"raw_samples_uplinked": count(CLOUD_TAG),
            "centralized_raw_samples_uplinked": count(UPPER_BOUND_TAG),
            "large_models_downlinked": len(downlink_violations(graph)),
            "cloud_samples": len(cloud), "device_samples": len(device)}
