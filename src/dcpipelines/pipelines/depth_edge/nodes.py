"""Thin nodes of the depth_edge pipeline; the world, models, metrics and profiling live in
``dcpipelines.core.vision`` and ``dcpipelines.core.devices``.

torch is imported inside the functions to keep Kedro's start-up cheap.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dcpipelines.core.seeds import seed_list


def frame_splits(rgbd_folder: Any, data: dict, world: dict, blur: dict, seed: int,
                 seeds: int) -> dict[int, Any]:
    """Per run seed: train / validation / test frames, rendered by the procedural forest
    (``data.source: synthetic``) or read from the RGB-D folder (``data.source: folder``)."""
    from dcpipelines.core.vision import depth_study

    runs = seed_list(seed, seeds)
    if data["source"] == "synthetic":
        return {s: depth_study.rendered_splits(s, data, world, blur) for s in runs}
    if data["source"] == "folder":
        frames = rgbd_folder.read(data["rgb_size"], data["depth_size"], data["max_depth"])
        return {s: depth_study.folder_splits(frames, s, data, blur) for s in runs}
    raise ValueError(f"depth_edge.data.source is {data['source']!r}; use 'synthetic' or 'folder'")


def train_depth_models(splits: dict[int, Any], models: dict, training: dict
                       ) -> tuple[dict[int, dict[str, Any]], pd.DataFrame]:
    """Both models per run seed, same budget; and the loss per epoch."""
    from dcpipelines.core.vision.depth_study import train_both

    trained, history = {}, []
    for seed, split in splits.items():
        trained[seed], table = train_both(split, models, training, seed)
        history.append(table)
    return trained, pd.concat(history, ignore_index=True)


def score_depth_models(splits: dict[int, Any], trained: dict[int, dict[str, Any]],
                       blur: dict) -> pd.DataFrame:
    """Depth metrics per seed, model and blur length (0 = sharp)."""
    from dcpipelines.core.vision.depth_study import score_models

    return pd.concat([score_models(trained[s], splits[s], s, blur["curve_lengths"],
                                   blur["test_length"]) for s in splits], ignore_index=True)


def example_predictions(splits: dict[int, Any], trained: dict[int, dict[str, Any]],
                        blur: dict, seed: int, count: int) -> dict[str, np.ndarray]:
    """A few test frames of the first seed, sharp and blurred, with both models' predictions."""
    from dcpipelines.core.vision.depth import predict_depth

    split, models = splits[seed], trained[seed]
    sharp = split.test.take(slice(0, count))
    blurred = split.blurred_test(blur["test_length"]).take(slice(0, count))
    out = {"rgb": sharp.rgb, "rgb_blur": blurred.rgb, "depth": sharp.depth}
    for name, model in models.items():
        out[name] = predict_depth(model, sharp)
        out[f"{name}_blur"] = predict_depth(model, blurred)
    return out


def device_depth_models(trained: dict[int, dict[str, Any]], splits: dict[int, Any],
                        seed: int) -> dict[str, dict[str, Any]]:
    """The first seed's two models as the robot runs them: batch-1 RGB in [0, 1]."""
    from dcpipelines.core.vision.depth import to_tensors

    example = to_tensors(splits[seed].test.take(slice(0, 1)))[0]
    text = {"ae": "depth_edge auto-encoder: RGB 1x3xHxW in [0, 1] -> depth (m) at half size",
            "multiscale": "depth_edge multi-scale (coarse + fine) network: RGB -> depth (m)"}
    return {f"depth_edge_{name}": {"module": model.eval(), "example_input": example,
                                   "description": text[name]}
            for name, model in trained[seed].items()}


def profile_depth_models(device_models: dict[str, dict[str, Any]], splits: dict[int, Any],
                         profiling: dict, boards: dict, seed: int) -> pd.DataFrame:
    """Export, host measurements and board estimates for each device model (one row each)."""
    from dcpipelines.core.vision.depth import to_tensors
    from dcpipelines.core.vision.depth_study import profile_model

    checks = to_tensors(splits[seed].test.take(slice(0, profiling["check_frames"])))[0]
    rows = []
    for name, entry in device_models.items():
        row = profile_model(name, entry["module"], entry["example_input"], checks[:, None],
                            profiling["latency"], {b: v["profile"] for b, v in boards.items()},
                            profiling["rss_runs"])
        rows.append({**row, "model": name.removeprefix("depth_edge_")})
    return pd.DataFrame(rows)
