"""The dc_ccl report: accuracy of the six variants over seeds (overall and per side), the
gap DC-CCL closes towards the centralized bound, the mimic's fidelity, link traffic, device
cost, and the claims judged on paired differences over seeds."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from dcpipelines.core.claims import at_least, beats, interval_metrics, summarize
from dcpipelines.core.plotting import PALETTE, bars_with_intervals, new_figure
from dcpipelines.core.reporting import Claim, Report, history_table

VARIANTS = ("cloud_only", "device_only", "co_no_mimic", "dc_ccl", "dc_ccl_hetero",
            "centralized", "dc_ccl_no_tune")
SIDES = ("acc", "cloud_class_acc", "device_class_acc")


def final_round(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Each variant's row at its last round, per seed."""
    last = accuracy.groupby(["variant", "seed"])["round"].transform("max")
    return accuracy[accuracy["round"] == last]


def per_seed(final: pd.DataFrame, variant: str, column: str = "acc") -> list[float]:
    """One variant's final-round figure per seed, in seed order."""
    rows = final[final["variant"] == variant].sort_values("seed")
    if rows.empty:
        raise ValueError(f"no accuracy rows for variant {variant!r}")
    return rows[column].tolist()


def gap_closed(dc: float, cloud: float, central: float) -> float:
    """Share of the cloud-only -> centralized accuracy gap that DC-CCL closes (0 when there is
    no gap: with tiny test sets both can score the same, and nothing is closed)."""
    if abs(central - cloud) < 1e-12:
        return 0.0
    return (dc - cloud) / (central - cloud)


def _accuracy_metrics(final: pd.DataFrame) -> dict[str, float]:
    out: dict[str, float] = {}
    for variant in VARIANTS:
        for column in SIDES:
            out.update(interval_metrics(f"{variant}_{column}",
                                        summarize(per_seed(final, variant, column))))
    return out


def _gap_values(final: pd.DataFrame) -> list[float]:
    return [gap_closed(d, c, z) for d, c, z in zip(
        per_seed(final, "dc_ccl"), per_seed(final, "cloud_only"),
        per_seed(final, "centralized"), strict=True)]


def _link_metrics(traffic: pd.DataFrame, cost: pd.DataFrame, fidelity: pd.DataFrame,
                  audit: dict) -> dict[str, float]:
    t = traffic.set_index("variant")
    f = fidelity.groupby("family")[["mse", "top1_agreement"]].mean()
    c = cost.set_index("variant")
    out = {
        "mimic_top1_agreement": f.loc["small", "top1_agreement"],
        "mimic_mse": f.loc["small", "mse"],
        "hetero_mimic_top1_agreement": f.loc["hetero_small", "top1_agreement"],
        "hetero_mimic_mse": f.loc["hetero_small", "mse"],
        "downlink_bytes_per_round": t.loc["dc_ccl", "downlink_bytes_per_round"],
        "uplink_bytes_per_round": t.loc["dc_ccl", "uplink_bytes_per_round"],
        "hetero_downlink_bytes_per_round": t.loc["dc_ccl_hetero", "downlink_bytes_per_round"],
        "hetero_uplink_bytes_per_round": t.loc["dc_ccl_hetero", "uplink_bytes_per_round"],
        "large_submodel_bytes": t.loc["dc_ccl", "large_submodel_bytes"],
        "large_to_small_param_ratio": (t.loc["dc_ccl", "large_submodel_params"]
                                       / t.loc["dc_ccl", "co_submodel_params"]),
        "hetero_large_to_small_param_ratio": (t.loc["dc_ccl_hetero", "large_submodel_params"]
                                              / t.loc["dc_ccl_hetero", "co_submodel_params"]),
        "co_train_flops_per_sample": c.loc["dc_ccl", "train_flops_per_sample"],
        "hetero_co_train_flops_per_sample": c.loc["dc_ccl_hetero", "train_flops_per_sample"],
        "rounds": int(t.loc["dc_ccl", "rounds"]),
    }
    for column in c.columns:
        if column.startswith("est_round_seconds_"):
            out[column.replace("est_round_seconds_", "device_round_est_sec_")] = c.loc[
                "dc_ccl", column]
    return {**out, **{k: int(v) for k, v in audit.items()}}


def _claims(final: pd.DataFrame, gaps: list[float], metrics: dict, targets: dict) -> list[Claim]:
    dc = per_seed(final, "dc_ccl")
    ratio = metrics["large_to_small_param_ratio"]
    return [
        beats("DC-CCL above cloud-only on the joint test set", "dc_ccl", dc,
              "cloud_only", per_seed(final, "cloud_only")),
        beats("DC-CCL above the device-only model", "dc_ccl", dc,
              "device_only", per_seed(final, "device_only")),
        beats("The mimic is what makes fusion work: DC-CCL above the co-submodel trained "
              "without it", "dc_ccl", dc, "co_no_mimic", per_seed(final, "co_no_mimic")),
        at_least("DC-CCL closes most of the gap to the centralized upper bound",
                 "gap_closed (per seed)", gaps, targets["gap_closed"]),
        Claim("The large submodel is at least 10x the co-submodel",
              f"{ratio:.1f}x parameters ({metrics['large_submodel_bytes']:,} bytes stay in "
              "the cloud)", ratio >= targets["param_ratio"]),
        Claim("No raw sample up-link, no large model down-link",
              f"{metrics['raw_samples_uplinked']} device samples read by cloud nodes, "
              f"{metrics['large_models_downlinked']} device nodes reading the large submodel "
              f"(read off the graph; the centralized bound would uplink "
              f"{metrics['centralized_raw_samples_uplinked']})",
              metrics["raw_samples_uplinked"] == 0 and metrics["large_models_downlinked"] == 0),
        beats("Heterogeneous backbones (residual cloud, MobileNet-style device) still gain "
              "over cloud-only", "dc_ccl_hetero", per_seed(final, "dc_ccl_hetero"),
              "cloud_only", per_seed(final, "cloud_only")),
        beats("Ablation (ours): the last-layer tuning on cloud samples helps", "dc_ccl", dc,
              "dc_ccl_no_tune", per_seed(final, "dc_ccl_no_tune")),
    ]


def _curves(accuracy: pd.DataFrame) -> Figure:
    fig, ax = new_figure(width=6.4, title="Joint test accuracy per round (mean over seeds)")
    mean = accuracy.groupby(["variant", "round"])["acc"].mean().reset_index()
    for i, variant in enumerate(VARIANTS):
        rows = mean[mean["variant"] == variant]
        if variant in ("cloud_only", "centralized"):
            ax.axhline(rows["acc"].iloc[0], color=PALETTE[i], ls="--", label=variant)
        else:
            ax.plot(rows["round"], rows["acc"], marker="o", ms=3, color=PALETTE[i],
                    label=variant)
    ax.set_xlabel("round")
    ax.set_ylabel("accuracy")
    ax.legend()
    return fig


def _by_side(metrics: dict) -> Figure:
    fig, axes = new_figure(ncols=2, title="Accuracy by side of the classes (final round)")
    for ax, column, title in zip(axes, SIDES[1:], ("cloud classes", "device classes"),
                                 strict=True):
        keys = [f"{v}_{column}" for v in VARIANTS]
        bars_with_intervals(ax, list(VARIANTS), [metrics[k] for k in keys],
                            [metrics[f"{k}_ci_low"] for k in keys],
                            [metrics[f"{k}_ci_high"] for k in keys], ylabel="accuracy")
        ax.set_title(title)
    return fig


def _bytes(traffic: pd.DataFrame) -> Figure:
    t = traffic.set_index("variant")
    fig, ax = new_figure(width=6.4, title="What crosses the link per round (log scale)")
    labels = ["co-submodel down", "mimic down (once, amortised)", "co-submodel up",
              "raw samples up", "large submodel (never sent)"]
    width = 0.4
    for i, variant in enumerate(t.index):
        row = t.loc[variant]
        values = [row["co_submodel_bytes"], row["mimic_bytes"] / row["rounds"],
                  row["uplink_bytes_per_round"], 0, row["large_submodel_bytes"]]
        ax.bar([j + i * width for j in range(len(labels))], values, width,
               color=PALETTE[i], label=variant)
    ax.set_yscale("symlog", linthresh=1)
    ax.set_xticks([j + width / 2 for j in range(len(labels))], labels, rotation=25,
                  ha="right")
    ax.set_ylabel("bytes")
    ax.legend()
    return fig


# variants trained round by round (cloud-only and the centralized bound are scored once)
ROUND_VARIANTS = ("dc_ccl", "dc_ccl_hetero", "dc_ccl_no_tune", "co_no_mimic", "device_only")


def round_histories(accuracy: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Accuracy per round (mean over seeds) of every variant trained in rounds, overall and on
    each side's classes: curves for MLflow and dvc plots."""
    rounds = accuracy[accuracy["variant"].isin(ROUND_VARIANTS)]
    return {f"round_{column}": history_table(rounds, "round", column, series="variant")
            for column in SIDES}


def report_dc_ccl(accuracy: pd.DataFrame, fidelity: pd.DataFrame, traffic: pd.DataFrame,
                  cost: pd.DataFrame, audit: dict, targets: dict) -> Report:
    """Metrics, claims, plots and tables of one dc_ccl run."""
    final = final_round(accuracy)
    metrics = _accuracy_metrics(final)
    gaps = _gap_values(final)
    metrics["gap_closed"] = gap_closed(metrics["dc_ccl_acc"], metrics["cloud_only_acc"],
                                       metrics["centralized_acc"])
    gap_est = summarize(gaps)
    metrics.update({"gap_closed_ci_low": gap_est.ci_low, "gap_closed_ci_high": gap_est.ci_high,
                    "seeds": int(final["seed"].nunique())})
    metrics.update(_link_metrics(traffic, cost, fidelity, audit))
    curves = (accuracy.groupby(["variant", "round"])[list(SIDES)].mean().reset_index())
    return Report(
        name="dc_ccl", title="DC-CCL: device-cloud collaborative controlled learning",
        metrics=metrics, claims=_claims(final, gaps, metrics, targets),
        figures={"accuracy_per_round": _curves(accuracy), "accuracy_by_side": _by_side(metrics),
                 "bytes_per_round": _bytes(traffic)},
        tables={"accuracy_per_round": curves, "accuracy_per_seed": final,
                "mimic_fidelity": fidelity, "link_traffic": traffic,
                "device_training_cost": cost},
        notes=("Accuracies are on the joint CIFAR-10 test set, final round, mean over seeds "
               "with 95% t intervals; claims hold only when the paired-difference interval "
               "over seeds clears the margin. `gap_closed` is the formula on the means; its "
               "interval is over per-seed values."),
        histories=round_histories(accuracy),
    )
