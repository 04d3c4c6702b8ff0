"""The depth_edge report: metrics over seeds, the paper's claims, plots and the board table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dcpipelines.core.claims import at_least, beats, summarize, summarize_all
from dcpipelines.core.plotting import PALETTE, new_figure
from dcpipelines.core.reporting import Claim, Report, history_table

MODELS = ("ae", "multiscale")
METRICS = ("rmse", "absrel", "log10", "delta1", "delta2", "delta3")
LABELS = {"ae": "auto-encoder", "multiscale": "multi-scale"}
HOST = ("params", "flops", "mnn_bytes", "mnn_max_abs_err", "mnn_session_mb", "peak_rss_mb",
        "mnn_latency_ms", "onnxruntime_latency_ms", "torch_latency_ms")


def _per_seed(scores: pd.DataFrame, blur_length: float) -> dict[str, list[float]]:
    """Figures per seed: `<model>_<metric>` (sharp) or `<model>_<metric>_blur`."""
    suffix = "" if blur_length == 0 else "_blur"
    rows = scores[scores["blur_length"] == blur_length].sort_values("seed")
    return {f"{m}_{k}{suffix}": rows[rows["model"] == m][k].tolist()
            for m in MODELS for k in METRICS}


def _host_metrics(profile: pd.DataFrame, boards: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for row in profile.to_dict("records"):
        m = row["model"]
        out.update({f"{m}_{key}": row[key] for key in HOST})
        for board in boards:
            for what in ("latency_ms_est", "energy_mj_est", "memory_mb_est"):
                out[f"{m}_{board}_{what}"] = row[f"{board}_{what}"]
    return out


def _claims(per_seed: dict, metrics: dict, params: dict) -> list[Claim]:
    paper, goal = params["paper"], params["min_delta1"]
    ae_ms, ae_rss = metrics["ae_rpi4_latency_ms_est"], metrics["ae_peak_rss_mb"]
    energy_at_paper_power = paper["rpi4_power_w"] * ae_ms
    return [
        Claim(f"Auto-encoder on a Raspberry Pi 4: {paper['rpi4_latency_ms']:g} ms mean runtime",
              f"estimated {ae_ms:.2f} ms (cost model from FLOPs and bytes; host MNN "
              f"{metrics['ae_mnn_latency_ms']:.2f} ms measured, batch 1, one thread)",
              ae_ms <= paper["rpi4_latency_ms"]),
        Claim(f"... using about {paper['rpi4_memory_mb']:g} MB of memory",
              f"peak RSS of a process running the MNN model: {ae_rss:.0f} MB measured on this "
              f"x86 host (MNN session itself {metrics['ae_mnn_session_mb']:.1f} MB)",
              ae_rss <= paper["rpi4_memory_mb"]),
        Claim(f"... at {paper['rpi4_power_w']:g} W",
              f"no power meter here; the Pi 4 profile assumes {metrics['ae_rpi4_power_w']:g} W "
              f"under load: {metrics['ae_rpi4_energy_mj_est']:.1f} mJ per frame estimated "
              f"({energy_at_paper_power:.1f} mJ at the paper's {paper['rpi4_power_w']:g} W)", None),
        beats("The multi-scale network beats the auto-encoder on motion-blurred frames (delta1)",
              "multi-scale", per_seed["multiscale_delta1_blur"],
              "auto-encoder", per_seed["ae_delta1_blur"]),
        beats("... and on AbsRel (lower is better)", "multi-scale",
              per_seed["multiscale_absrel_blur"], "auto-encoder", per_seed["ae_absrel_blur"],
              higher_is_better=False),
        at_least(f"Goal: auto-encoder delta1 >= {goal:g} on sharp frames", "delta1",
                 per_seed["ae_delta1"], goal),
        at_least(f"Goal: multi-scale delta1 >= {goal:g} on sharp frames", "delta1",
                 per_seed["multiscale_delta1"], goal),
    ]


def board_table(profile: pd.DataFrame, metrics: dict, boards: dict) -> pd.DataFrame:
    """Per board and model: price, power, accuracy, runtime, size and memory, as the paper
    compares them (accuracy and size are the model's; runtime and energy are estimates)."""
    from dcpipelines.core.devices.profiles import PROFILES

    rows = []
    for board, info in boards.items():
        prof = PROFILES[info["profile"]]
        for row in profile.to_dict("records"):
            m = row["model"]
            rows.append({
                "board": info["name"], "model": LABELS[m], "price_usd": info["price_usd"],
                "power_w_assumed": prof.active_power_w, "memory_gb": prof.memory_gb,
                "delta1_sharp": metrics[f"{m}_delta1"], "delta1_blur": metrics[f"{m}_delta1_blur"],
                "absrel_sharp": metrics[f"{m}_absrel"],
                "latency_ms_est": row[f"{board}_latency_ms_est"],
                "energy_mj_est": row[f"{board}_energy_mj_est"],
                "model_kb": row["mnn_bytes"] / 1024, "peak_rss_mb_host": row["peak_rss_mb"],
                "price_source": info["price_source"],
            })
    return pd.DataFrame(rows)


def _examples_figure(examples: dict[str, np.ndarray], max_depth: float):
    count = len(examples["rgb"])
    fig, axes = new_figure(4, 2 * count, width=8.0, height=1.6,
                           title="Test frames: RGB, true depth, predictions (sharp and blurred)")
    axes = np.asarray(axes).reshape(2 * count, 4)
    for i in range(count):
        for j, tag in enumerate(("", "_blur")):
            row = axes[2 * i + j]
            panels = [examples[f"rgb{tag}"][i], examples["depth"][i], examples[f"ae{tag}"][i],
                      examples[f"multiscale{tag}"][i]]
            names = [f"RGB{' blurred' if tag else ''}", "true depth", "auto-encoder", "multi-scale"]
            for ax, panel, name in zip(row, panels, names, strict=True):
                kwargs = ({} if panel.ndim == 3
                          else {"cmap": "magma_r", "vmin": 0, "vmax": max_depth})
                ax.imshow(panel, **kwargs)
                ax.set_title(name, fontsize=7)
                ax.set_axis_off()
    return fig


def _blur_figure(scores: pd.DataFrame):
    fig, ax = new_figure(title="delta1 against motion-blur length (mean and 95% interval)")
    for colour, m in zip(PALETTE, MODELS, strict=False):
        lengths = sorted(scores["blur_length"].unique())
        est = [summarize(scores[(scores["model"] == m) & (scores["blur_length"] == b)]["delta1"])
               for b in lengths]
        ax.plot(lengths, [e.mean for e in est], marker="o", color=colour, label=LABELS[m])
        ax.fill_between(lengths, [e.ci_low for e in est], [e.ci_high for e in est],
                        color=colour, alpha=0.2)
    ax.set_xlabel("blur length (pixels at the input resolution)")
    ax.set_ylabel("delta1 (share with max ratio < 1.25)")
    ax.legend()
    return fig


def _table_figure(table: pd.DataFrame):
    shown = table.drop(columns=["price_source"]).round(3)
    shown["board"] = shown["board"].str.replace(" Developer Kit", "").str.replace(" Model B", "")
    fig, ax = new_figure(width=11.0, height=0.45 * (len(shown) + 2), title="Board comparison")
    ax.set_axis_off()
    cells = ax.table(cellText=shown.astype(str).values, colLabels=list(shown.columns),
                     loc="center")
    cells.auto_set_font_size(False)
    cells.set_fontsize(7)
    cells.auto_set_column_width(list(range(len(shown.columns))))
    return fig


def report_depth_edge(scores: pd.DataFrame, history: pd.DataFrame, profile: pd.DataFrame,
                      examples: dict, params: dict, boards: dict, blur: dict,
                      data: dict) -> Report:
    """Metrics (means and intervals over seeds), claims, plots and the board table."""
    from dcpipelines.core.devices.profiles import PROFILES

    per_seed = {**_per_seed(scores, 0.0), **_per_seed(scores, float(blur["test_length"]))}
    metrics: dict[str, float] = summarize_all(per_seed)
    metrics.update(_host_metrics(profile, boards))
    for m in MODELS:
        metrics[f"{m}_rpi4_power_w"] = PROFILES[boards["rpi4"]["profile"]].active_power_w
    kept = history[history["kept"]]
    metrics.update({"num_train_frames": int(history["train_frames"].iloc[0]),
                    "seeds": int(scores["seed"].nunique()),
                    "blur_length_px": float(blur["test_length"]),
                    "best_epoch_mean": float(kept["epoch"].mean())})
    claims = _claims(per_seed, metrics, params)
    table = board_table(profile, metrics, boards)
    figures = {"example_frames": _examples_figure(examples, data["max_depth"]),
               "delta1_vs_blur": _blur_figure(scores), "board_table": _table_figure(table)}
    tables = {"board_comparison": table, "scores_per_seed": scores.round(6),
              "training_history": history.round(6), "host_profile": profile}
    source = ("the procedural forest-floor world (synthetic)" if data["source"] == "synthetic"
              else "the RGB-D folder named in the catalog")
    return Report("depth_edge", "Depth estimation for forest-floor robots on edge boards",
                  metrics, claims, figures, tables, NOTES.format(source=source),
                  histories=loss_histories(history))


def loss_histories(history: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Training and validation loss per epoch of each model (mean over seeds): curves for
    MLflow and dvc plots."""
    return {name: history_table(history, "epoch", name, series="model")
            for name in ("train_loss", "val_loss")}


NOTES = """## Where the numbers come from
- Accuracy figures come from {source}. With the default configuration every accuracy number
  here is measured on synthetic frames, not on the authors' forest data.
- Host figures (`*_latency_ms`, `*_peak_rss_mb`, `*_mnn_*`) are measured on this machine
  (x86, batch 1, one thread); board figures (`*_rpi4_*_est`, `*_jetson_nano_*_est`) are
  estimates of the project's roofline cost model (core/devices/profiles.py), not measurements
  on a board. Power is the profile's assumed load power; temperature is not modelled.
- Metrics without a suffix are the mean over seeds; `_ci_low` / `_ci_high` are 95% t
  intervals over seeds. The blur claim is judged on the paired difference per seed.
"""
