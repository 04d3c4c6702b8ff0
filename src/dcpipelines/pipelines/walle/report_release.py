"""The release part of the walle report: metrics, claims that can fail, sweeps, plots.

Claims are judged against ``thresholds`` from the parameters (fixed before any run): "within
seconds" is a p99 delivery of at most ``p99_delivery_s``; "within capacity" is every serving
component's peak offered load (10-second window) at most ``peak_utilisation`` of its capacity;
a release "works" when at most ``failure_rate`` of the reached devices give up.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from dcpipelines.core.claims import at_least, summarize
from dcpipelines.core.plotting import new_figure
from dcpipelines.core.reporting import Claim

STRATEGIES = ("push", "pull", "push_then_pull")
COMPONENTS = ("fanout", "push_gateway", "poll_service", "cdn_edge", "origin")
SERVING = ("push_gateway", "poll_service", "cdn_edge", "origin")  # with a queue limit
CLASS_SHARE = {"low_end_phone": 0.3, "mid_range_phone": 0.4, "high_end_phone": 0.2, "tablet": 0.1}


def size_tag(size: int) -> str:
    """10000 -> 'n1e4', 2000 -> 'n2e3'."""
    exponent = int(math.floor(math.log10(size)))
    mantissa = size / 10**exponent
    return f"n{mantissa:g}e{exponent}"


def judge(rows: pd.DataFrame, thresholds: dict[str, float]) -> pd.DataFrame:
    """Whether each row is timely, within capacity and reliable (and all three: ``ok``)."""
    peak = rows[[f"peak_{c}_utilisation" for c in SERVING]].max(axis=1)
    out = rows.assign(max_serving_utilisation=peak)
    out["timely"] = out["p99_delivery_s"] <= thresholds["p99_delivery_s"]
    out["within_capacity"] = peak <= thresholds["peak_utilisation"]
    out["reliable"] = out["failure_rate"] <= thresholds["failure_rate"]
    out["ok"] = out["timely"] & out["within_capacity"] & out["reliable"]
    return out


def release_metrics(bundle: dict[str, Any]) -> dict[str, float]:
    """Per strategy and fleet size: p50/p99 delivery, failure rate; peak loads at the claims'
    fleet size; the simulation's wall time; SimPy agreement; gray release outcome."""
    table = bundle["strategies"]
    mean = table.drop(columns="seed").groupby(["fleet_size", "strategy"]).mean(numeric_only=True)
    metrics: dict[str, float] = {"fleet_size": int(table["fleet_size"].max())}
    for (size, strategy), row in mean.iterrows():
        tag = size_tag(int(size))
        for key in ("p50_delivery_s", "p99_delivery_s", "failure_rate"):
            metrics[f"{strategy}_{key}_{tag}"] = float(row[key])
    claim_size = bundle["claim_fleet_size"]
    for strategy in STRATEGIES:
        row = mean.loc[(claim_size, strategy)]
        for component in COMPONENTS:
            metrics[f"{strategy}_peak_{component}_utilisation"] = float(
                row[f"peak_{component}_utilisation"])
    first = table[(table["seed"] == table["seed"].iloc[0]) & (table["fleet_size"] == claim_size)]
    metrics[f"release_simulation_{size_tag(claim_size)}_wall_s"] = float(first["wall_s"].sum())
    metrics["release_model_vs_simpy_max_delivery_rel_diff"] = _simpy_gap(bundle["validation"])
    metrics.update(_gray_metrics(bundle))
    return {k: v for k, v in metrics.items() if np.isfinite(v)}


def _simpy_gap(validation: pd.DataFrame) -> float:
    pivot = validation.set_index(["strategy", "model"])
    gaps = []
    for strategy in pivot.index.get_level_values(0).unique():
        fast, des = pivot.loc[(strategy, "vectorised")], pivot.loc[(strategy, "simpy")]
        for key in ("p50_delivery_s", "p99_delivery_s"):
            gaps.append(abs(fast[key] - des[key]) / max(abs(des[key]), 1e-9))
    return float(max(gaps))


def _gray_metrics(bundle: dict[str, Any]) -> dict[str, float]:
    gray = bundle["gray"]
    out: dict[str, float] = {}
    for task, rows in gray.groupby("task"):
        stopped = rows.loc[rows["stopped"], "stage"]
        out[f"gray_release_{task}_stages_run"] = float(len(rows))
        out[f"gray_release_{task}_stopped_after_stage"] = float(stopped.iloc[0]) if len(stopped) else -1.0
        out[f"gray_release_{task}_failed_devices"] = float(rows["failed"].sum())
    # a one-shot release of the faulty task: every reached device runs it
    faulty = bundle["task_failure"]["faulty"]
    mean_p = sum(CLASS_SHARE[c] * p for c, p in faulty.items())
    reached = gray.loc[gray["task"] == "healthy", "delivered"].sum()
    out["one_shot_faulty_failed_devices"] = float(reached * mean_p)
    return out


def _at_most(claim: str, name: str, values: list[float], limit: float) -> Claim:
    """Judge "figure <= limit" on the interval over seeds (None with one seed)."""
    flipped = at_least(claim, name, [-v for v in values], -limit)
    est = summarize(values)
    return Claim(claim, f"{name} {est.text(3)} against a limit of {limit:g}", flipped.holds)


def release_claims(bundle: dict[str, Any]) -> list[Claim]:
    """Walle's release claims, each stated so that the simulation can refute it."""
    limits, size = bundle["thresholds"], bundle["claim_fleet_size"]
    table = judge(bundle["strategies"], limits)
    at_size = table[table["fleet_size"] == size]
    ptp = at_size[at_size["strategy"] == "push_then_pull"]
    parts = [
        _at_most("", "p99 delivery (s)", ptp["p99_delivery_s"].tolist(), limits["p99_delivery_s"]),
        _at_most("", "peak serving load", ptp["max_serving_utilisation"].tolist(),
                 limits["peak_utilisation"]),
        _at_most("", "failure rate", ptp["failure_rate"].tolist(), limits["failure_rate"]),
    ]
    holds = None if any(p.holds is None for p in parts) else all(p.holds for p in parts)
    push = at_size[at_size["strategy"] == "push"]["peak_push_gateway_utilisation"].tolist()
    gateway = at_least(f"Push alone overloads the push gateway ({size:,} devices)",
                       "peak gateway load / capacity", push, limits["peak_utilisation"])
    return [
        Claim(f"Push-then-pull delivers within seconds to {size:,} devices while every serving "
              "component stays within capacity",
              "; ".join(p.measured for p in parts) + "; " + _flips(bundle, "push_then_pull"), holds),
        _pull_claim(bundle, size),
        Claim(gateway.claim, gateway.measured + "; " + _flips(bundle, "push"), gateway.holds),
        _validation_claim(bundle["validation"]),
        _gray_claim(bundle),
    ]


def _claim_sweeps(bundle: dict[str, Any], strategy: str) -> pd.DataFrame:
    """The sweeps of one strategy at the claims' fleet size, judged."""
    rows = judge(bundle["sweeps"], bundle["thresholds"])
    return rows[(rows["strategy"] == strategy) & (rows["fleet_size"] == bundle["claim_fleet_size"])]


def _pull_claim(bundle: dict[str, Any], size: int) -> Claim:
    rows = _claim_sweeps(bundle, "pull")
    text = _flips(bundle, "pull")
    if rows.empty:
        return Claim("Pull alone overloads the cloud or delays delivery", "no pull sweep", None)
    return Claim(f"Pull alone overloads the cloud or delays delivery ({size:,} devices, every "
                 "swept poll interval and poll capacity; one seed)", text, not rows["ok"].any())


def _flips(bundle: dict[str, Any], strategy: str) -> str:
    """Where a strategy is timely, within capacity and reliable in its sweeps."""
    rows = _claim_sweeps(bundle, strategy)
    parts = []
    for parameter, group in rows.groupby("parameter", sort=False):
        good = group.loc[group["ok"], "value"]
        where = ", ".join(f"{v:g}" for v in good) if len(good) else "none"
        parts.append(f"sweep {parameter}: all three hold at {where} "
                     f"(of {', '.join(f'{v:g}' for v in group['value'])})")
    return "; ".join(parts) if parts else "no sweep"


def _validation_claim(validation: pd.DataFrame) -> Claim:
    pivot = validation.set_index(["strategy", "model"])
    verdicts, texts = [], []
    for strategy in pivot.index.get_level_values(0).unique():
        fast, des = pivot.loc[(strategy, "vectorised")], pivot.loc[(strategy, "simpy")]
        for key in ("p50_delivery_s", "p99_delivery_s"):
            gap = abs(fast[key] - des[key])
            verdicts.append(gap <= max(0.25 * max(abs(fast[key]), abs(des[key])), 5.0))
        verdicts.append(abs(fast["failure_rate"] - des["failure_rate"]) <= 0.03)
        texts.append(f"{strategy}: p99 {fast['p99_delivery_s']:.0f} vs {des['p99_delivery_s']:.0f} s, "
                     f"failures {fast['failure_rate']:.3f} vs {des['failure_rate']:.3f}")
    return Claim("The vectorised queue model agrees with a request-by-request SimPy simulation "
                 "(p50/p99 within 25% or 5 s, failure rate within 0.03)", "; ".join(texts),
                 bool(all(verdicts)))


def _gray_claim(bundle: dict[str, Any]) -> Claim:
    metrics = _gray_metrics(bundle)
    stopped = metrics["gray_release_faulty_stopped_after_stage"]
    healthy = metrics["gray_release_healthy_stopped_after_stage"]
    text = (f"faulty task stopped after stage {stopped:.0f}, "
            f"{metrics['gray_release_faulty_failed_devices']:,.0f} devices failed "
            f"(one-shot release: {metrics['one_shot_faulty_failed_devices']:,.0f}); healthy task "
            f"ran {metrics['gray_release_healthy_stages_run']:.0f} stages")
    return Claim("Gray release with an automatic stop contains a faulty task in its first stage "
                 "and lets a healthy one through", text, bool(stopped == 0 and healthy == -1))


def release_tables(bundle: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """The tables written next to the report."""
    limits = bundle["thresholds"]
    return {"deployment": judge(bundle["strategies"], limits),
            "release_sweeps": judge(bundle["sweeps"], limits),
            "release_validation": bundle["validation"],
            "release_policies": bundle["policies"],
            "gray_release": bundle["gray"]}


def deployment_plot(bundle: dict[str, Any]) -> Figure:
    """p99 delivery, peak serving load and failure rate against fleet size, per strategy."""
    table = judge(bundle["strategies"], bundle["thresholds"])
    mean = table.groupby(["strategy", "fleet_size"]).mean(numeric_only=True).reset_index()
    figure, axes = new_figure(3, width=12, height=3.4)
    columns = [("p99_delivery_s", "p99 delivery (s)"),
               ("max_serving_utilisation", "peak load / capacity"),
               ("failure_rate", "failure rate (0 drawn at 1e-4)")]
    for strategy, rows in mean.groupby("strategy"):
        for axis, (column, _) in zip(axes, columns, strict=True):
            axis.plot(rows["fleet_size"], rows[column].clip(lower=1e-4), marker="o", label=strategy)
    limits = bundle["thresholds"]
    for axis, (_, label), limit in zip(axes, columns, (limits["p99_delivery_s"],
                                       limits["peak_utilisation"], limits["failure_rate"]),
                                       strict=True):
        axis.axhline(limit, color="grey", linestyle="--", linewidth=1)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("fleet size")
        axis.set_ylabel(label)
    axes[0].legend()
    return figure


def sweep_plot(bundle: dict[str, Any]) -> Figure:
    """One panel per sweep: p99 delivery and peak serving load against the swept value."""
    limits = bundle["thresholds"]
    rows = judge(bundle["sweeps"], limits)
    groups = list(rows.groupby(["strategy", "parameter", "fleet_size"], sort=False))
    ncols = min(4, len(groups))
    nrows = -(-len(groups) // ncols)
    figure, axes = new_figure(ncols, nrows, width=3.6 * ncols, height=3.2)
    axes = np.atleast_1d(axes).ravel()
    for axis in axes[len(groups):]:
        axis.set_visible(False)
    for axis, ((strategy, parameter, size), group) in zip(axes, groups, strict=False):
        axis.plot(group["value"], group["p99_delivery_s"].clip(lower=1e-2), marker="o",
                  color="#4c72b0", label="p99 delivery (s)")
        axis.plot(group["value"], group["max_serving_utilisation"].clip(lower=1e-3), marker="s",
                  color="#c44e52", label="peak load / capacity")
        axis.axhline(limits["p99_delivery_s"], color="#4c72b0", linestyle="--", linewidth=1)
        axis.axhline(limits["peak_utilisation"], color="#c44e52", linestyle="--", linewidth=1)
        for value in group.loc[group["ok"], "value"]:
            axis.axvline(value, color="#55a868", alpha=0.3, linewidth=6)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_xlabel(parameter)
        axis.set_title(f"{strategy}, {size:.0e} devices", fontsize=9)
    axes[0].legend(fontsize=7)
    return figure


def release_notes(bundle: dict[str, Any]) -> str:
    """How to read the release figures."""
    size = bundle["claim_fleet_size"]
    return (
        "Release figures come from a capacity simulation (fluid queues with limits, retries and "
        "an Erlang C term; checked against SimPy) whose capacities, payloads and connectivity "
        "are assumptions listed in docs/pipelines/walle.md. Delivery time is counted from the "
        "moment a device could first get the task (online, or its first poll for pull). Peak "
        f"loads are at {size:,} devices; green bands in release_sweeps.png mark the swept "
        "values where delivery is timely, every serving component within capacity and "
        "failures rare. Delivery times are simulated, deterministic for a seed, although their "
        "names end in `_s`."
    )
