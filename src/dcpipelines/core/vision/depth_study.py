"""The depth-on-edge-boards study in plain functions: frame splits per seed (rendered or read),
training both models on the same budget, scoring them on sharp and blurred frames, and
profiling the exported models for the boards.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dcpipelines.core.seeds import derive_seed
from dcpipelines.core.vision.depth_metrics import depth_metrics
from dcpipelines.core.vision.forest import WorldConfig, render_frames
from dcpipelines.core.vision.rgbd import Frames, downsample_depth, motion_blur

MODELS = ("ae", "multiscale")


@dataclass(frozen=True)
class FrameSplits:
    """One seed's frames; ``blur_angles`` fixes each test frame's motion direction."""

    train: Frames
    val: Frames
    test: Frames
    blur_angles: np.ndarray

    def blurred_test(self, length: float, samples: int = 9) -> Frames:
        """The test frames blurred by ``length`` pixels along each frame's direction."""
        return Frames(motion_blur(self.test.rgb, length, self.blur_angles, samples),
                      self.test.depth)


def blur_some(frames: Frames, fraction: float, max_length: float, seed: int) -> Frames:
    """Blur a random ``fraction`` of frames, each by a length uniform in [0, max_length]
    along a random direction (a moving rover's training set has some blurred frames)."""
    rng = np.random.default_rng(seed)
    chosen = np.flatnonzero(rng.random(len(frames)) < fraction)
    lengths = rng.uniform(0, max_length, len(chosen))
    angles = rng.uniform(0, np.pi, len(chosen))
    rgb = frames.rgb.copy()
    for i, length, angle in zip(chosen, lengths, angles, strict=True):
        rgb[i:i + 1] = motion_blur(rgb[i:i + 1], float(length), np.array([angle]))
    return Frames(rgb, frames.depth)


def world_config(data: dict, world: dict) -> WorldConfig:
    """The renderer's config: camera resolution = the network input, far plane = max depth."""
    width, height = data["rgb_size"]
    return WorldConfig.from_dict({**world, "width": width, "height": height,
                                  "max_depth": data["max_depth"]})


def rendered_splits(seed: int, data: dict, world: dict, blur: dict) -> FrameSplits:
    """Train / validation / test frames of the procedural forest for one run seed."""
    config = world_config(data, world)
    factor = config.width // int(data["depth_size"][0])

    def frames(n: int, purpose: str) -> Frames:
        rgb, depth = render_frames(int(n), derive_seed(seed, f"depth_edge.{purpose}"), config)
        return Frames(rgb, downsample_depth(depth, factor))

    sizes = data["frames"]
    train = blur_some(frames(sizes["train"], "train_frames"), blur["train_fraction"],
                      blur["train_max_length"], derive_seed(seed, "depth_edge.train_blur"))
    test = frames(sizes["test"], "test_frames")
    angles = np.random.default_rng(derive_seed(seed, "depth_edge.test_blur")).uniform(
        0, np.pi, len(test))
    return FrameSplits(train, frames(sizes["val"], "val_frames"), test, angles)


def folder_splits(frames: Frames, seed: int, data: dict, blur: dict) -> FrameSplits:
    """Shuffle real frames with the run seed and cut them by the validation / test shares."""
    n = len(frames)
    n_test, n_val = int(round(n * data["test_share"])), int(round(n * data["val_share"]))
    if min(n_test, n_val, n - n_test - n_val) < 1:
        raise ValueError(f"{n} frames are too few for validation share {data['val_share']} and "
                         f"test share {data['test_share']}; add frames or change the shares")
    order = np.random.default_rng(derive_seed(seed, "depth_edge.split")).permutation(n)
    test, val, train = np.split(order, [n_test, n_test + n_val])
    train_frames = blur_some(frames.take(np.sort(train)), blur["train_fraction"],
                             blur["train_max_length"], derive_seed(seed, "depth_edge.train_blur"))
    angles = np.random.default_rng(derive_seed(seed, "depth_edge.test_blur")).uniform(
        0, np.pi, n_test)
    return FrameSplits(train_frames, frames.take(np.sort(val)), frames.take(np.sort(test)), angles)


def train_both(splits: FrameSplits, models: dict, training: dict, seed: int):
    """Both models trained with the same data, epochs, batch, optimiser and loss; the same
    initialisation seed. Returns ({name: model}, history DataFrame)."""
    import torch

    from dcpipelines.core.vision.depth import build_depth_model, train_depth_model

    input_hw = splits.train.rgb.shape[1:3]
    trained, rows = {}, []
    for name in MODELS:
        torch.manual_seed(derive_seed(seed, "depth_edge.init"))
        model = build_depth_model(name, models[name], input_hw)
        result = train_depth_model(model, splits.train, splits.val, epochs=training["epochs"],
                                   batch=training["batch_size"], lr=training["lr"],
                                   lam=training["loss_lambda"],
                                   seed=derive_seed(seed, "depth_edge.training"))
        trained[name] = result.model
        rows += [{"seed": seed, "model": name, "epoch": e + 1, "train_loss": tr, "val_loss": va,
                  "kept": e + 1 == result.best_epoch, "train_frames": len(splits.train)}
                 for e, (tr, va) in enumerate(zip(result.train_loss, result.val_loss, strict=True))]
    return trained, pd.DataFrame(rows)


def score_models(models: dict, splits: FrameSplits, seed: int, lengths: list[float],
                 test_length: float) -> pd.DataFrame:
    """Depth metrics of every model on the test frames at every blur length (0 = sharp);
    ``test_length`` is the blurred condition of the headline claim."""
    from dcpipelines.core.vision.depth import predict_depth

    rows = []
    for length in sorted({0.0, float(test_length), *map(float, lengths)}):
        frames = splits.blurred_test(length)
        for name, model in models.items():
            rows.append({"seed": seed, "model": name, "blur_length": length,
                         **depth_metrics(predict_depth(model, frames), frames.depth)})
    return pd.DataFrame(rows)


def profile_model(name: str, model, example, check_inputs, latency: dict,
                  boards: dict[str, str], rss_runs: int) -> dict[str, float]:
    """Export through ONNX to MNN, measure on this host (FLOPs, size, MNN error, batch-1
    latency per runtime, MNN session memory, peak RSS of an MNN process) and estimate latency,
    energy and memory on each board profile with the project's cost model (``boards``: the
    short name used in the figures' keys -> the name of a device profile)."""
    import torch

    from dcpipelines.core.devices.costs import count_flops, estimate_profile_costs
    from dcpipelines.core.devices.mnn_runtime import MnnModel, export_in_memory
    from dcpipelines.core.devices.peak_memory import mnn_peak_rss_mb
    from dcpipelines.core.devices.profiles import PROFILES
    from dcpipelines.core.devices.runtimes import compare_latency

    model = model.eval()
    export = export_in_memory(model, example, name, check_inputs)
    with tempfile.TemporaryDirectory(prefix="depth-edge-") as scratch:
        onnx_path, mnn_path = export.write(scratch)
        host = compare_latency(model, example, onnx_path, mnn_path, **latency)
        session_mb = MnnModel(mnn_path).memory_mb
        rss = mnn_peak_rss_mb(mnn_path, tuple(example.shape), runs=rss_runs)
    params = sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        out_numel = int(np.prod(model(example).shape))
    measured = {"model": name, "flops": count_flops(model, example), "params": params,
                "param_bytes": 4 * params, "io_bytes": 4 * (example.numel() + out_numel),
                "output_bytes": 4 * out_numel, "mnn_bytes": len(export.mnn),
                "onnx_bytes": len(export.onnx), "mnn_max_abs_err": export.max_abs_err,
                "mnn_session_mb": session_mb, **rss,
                **{f"{runtime}_latency_ms": v["median_ms"] for runtime, v in host.items()}}
    for board, profile in boards.items():
        est = estimate_profile_costs(measured, PROFILES[profile])
        measured.update({f"{board}_latency_ms_est": est["est_latency_ms"],
                         f"{board}_energy_mj_est": est["est_energy_mj"],
                         f"{board}_memory_mb_est": est["est_peak_memory_mb"]})
    return measured


__all__ = ["FrameSplits", "MODELS", "blur_some", "folder_splits", "profile_model",
           "rendered_splits", "score_models", "train_both", "world_config"]
