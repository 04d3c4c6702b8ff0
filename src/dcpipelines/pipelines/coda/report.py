"""The coda report: gAUC and AUC per variant over seeds, claims on paired differences, the
filter's precision, the device cost, and three plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dcpipelines.core.claims import beats, interval_metrics, summarize
from dcpipelines.core.recsys.metrics import pooled_auc, user_aucs
from dcpipelines.core.reporting import Claim, Report, history_table

VARIANTS = ("cloud_global", "local_only", "local_random", "local_retrieved", "coda")
DEVICE_TRAIN_MS_LIMIT = 1000.0  # fixed before any run: one second of training per user
DOWNLOAD_BYTES_LIMIT = 1_000_000  # and at most 1 MB of samples per user


def per_user_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Per (seed, variant, retrieved, user): AUC and impressions (NaN: one label only)."""
    frames = []
    for (seed, variant, k), part in scores.groupby(["seed", "variant", "retrieved"], sort=False):
        aucs = user_aucs(part["user"].to_numpy(), part["label"].to_numpy(),
                         part["score"].to_numpy())
        frames.append(aucs.assign(seed=seed, variant=variant, retrieved=k))
    return pd.concat(frames, ignore_index=True)


def run_table(scores: pd.DataFrame, users: pd.DataFrame) -> pd.DataFrame:
    """Per (seed, variant, retrieved): gAUC (impression-weighted) and pooled AUC."""
    valid = users.dropna(subset=["auc"])
    gauc = valid.groupby(["seed", "variant", "retrieved"]).apply(
        lambda g: np.average(g["auc"], weights=g["impressions"]), include_groups=False)
    auc = scores.groupby(["seed", "variant", "retrieved"]).apply(
        lambda g: pooled_auc(g["label"], g["score"]), include_groups=False)
    return pd.DataFrame({"gauc": gauc, "auc": auc}).reset_index()


def _by_seed(runs: pd.DataFrame, variant: str, column: str) -> list[float]:
    return runs[runs["variant"] == variant].sort_values("seed")[column].tolist()


def improved_fraction(users: pd.DataFrame, k: int, sign: int = 1) -> list[float]:
    """Per seed: share of evaluated users whose AUC under coda beats cloud_global's (sign 1)
    or falls below it (sign -1); the rest are ties."""
    main = users[users["retrieved"] == k].dropna(subset=["auc"])
    wide = main.pivot_table(index=["seed", "user"], columns="variant", values="auc")
    better = (sign * (wide["coda"] - wide["cloud_global"]) > 0).groupby(level="seed").mean()
    return better.sort_index().tolist()


def _claims(runs: pd.DataFrame, cost: dict) -> list[Claim]:
    coda = _by_seed(runs, "coda", "gauc")
    claims = [beats(f"CoDA beats {label} in gAUC", "coda", coda, other,
                    _by_seed(runs, other, "gauc"))
              for other, label in (("cloud_global", "the cloud model without personalisation"),
                                   ("local_only", "on-device training without augmentation"),
                                   ("local_retrieved", "unfiltered retrieval (the filter helps)"),
                                   ("local_random", "random augmentation (retrieval helps)"))]
    measured, down = cost["device_train_ms_per_user"], cost["download_bytes_per_user"]
    claims.append(Claim(
        "On-device work is cheap: training under 1 s per user, under 1 MB of samples down",
        f"{measured:.0f} ms measured per user here (one CPU thread, shared machine); "
        f"{cost['phone_train_est_ms_per_user']:.2f} ms compute-bound estimate on the "
        f"mid-range phone profile; {down / 1e3:.1f} kB of samples down "
        f"({cost['phone_download_s']:.2f} s on the phone's link), "
        f"{cost['upload_bytes_per_user']:.0f} B up",
        measured < DEVICE_TRAIN_MS_LIMIT and down < DOWNLOAD_BYTES_LIMIT))
    return claims


def _gauc_plot(runs: pd.DataFrame) -> Figure:
    from dcpipelines.core.plotting import bars_with_intervals, new_figure

    fig, ax = new_figure(title="gAUC per variant (mean and 95% interval over seeds)")
    est = [summarize(_by_seed(runs, v, "gauc")) for v in VARIANTS]
    bars_with_intervals(ax, VARIANTS, [e.mean for e in est], [e.ci_low for e in est],
                        [e.ci_high for e in est], ylabel="gAUC")
    low = min(e.ci_low for e in est)
    ax.set_ylim(low - 0.01, max(e.ci_high for e in est) + 0.005)
    return fig


def _gain_plot(users: pd.DataFrame, k: int) -> Figure:
    from dcpipelines.core.plotting import new_figure

    main = users[users["retrieved"] == k].dropna(subset=["auc"])
    wide = main.pivot_table(index="user", columns="variant", values="auc")  # mean over seeds
    fig, ax = new_figure(title="Per-user AUC gain of coda over cloud_global (mean over seeds)")
    ax.hist(wide["coda"] - wide["cloud_global"], bins=41)
    ax.set_xlabel("AUC(coda) - AUC(cloud_global)")
    ax.set_ylabel("users")
    return fig


def _sweep_plot(sweep: pd.DataFrame) -> Figure:
    from dcpipelines.core.plotting import PALETTE, new_figure

    fig, ax = new_figure(title="gAUC against retrieved samples per user (first seed)")
    swept = sweep.groupby("variant")["retrieved"].nunique() > 1
    for i, variant in enumerate(VARIANTS):
        part = sweep[sweep["variant"] == variant].sort_values("retrieved")
        if swept.get(variant, False):
            ax.plot(part["retrieved"], part["gauc"], marker="o", label=variant, color=PALETTE[i])
        else:  # not swept: its gAUC at the default size, as a reference line
            ax.axhline(float(part["gauc"].iloc[0]), ls="--", lw=1, label=variant,
                       color=PALETTE[i])
    ax.set_xlabel("retrieved samples per user (k)")
    ax.set_ylabel("gAUC")
    ax.legend()
    return fig


def loss_histories(cloud_training_loss: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The cloud DIN's training loss per epoch, one series per run seed (``seed<N>``)."""
    named = cloud_training_loss.assign(run=[f"seed{s}" for s in cloud_training_loss["seed"]])
    return {"cloud_din_loss": history_table(named, "epoch", "loss", series="run")}


def report_coda(scores: pd.DataFrame, filter_stats: pd.DataFrame, cost: dict,
                matching: dict, seed: int, cloud_training_loss: pd.DataFrame) -> Report:
    """Metrics (mean and interval over seeds), claims, plots and tables of the comparison;
    the cloud model's loss per epoch as curves."""
    k = matching["retrieved_per_user"]
    users = per_user_table(scores)
    runs = run_table(scores, users)
    main = runs[runs["retrieved"] == k]
    metrics: dict[str, float] = {}
    for variant in VARIANTS:
        for column in ("gauc", "auc"):
            metrics.update(interval_metrics(f"{variant}_{column}",
                                            summarize(_by_seed(main, variant, column))))
    metrics.update(interval_metrics("users_improved_frac", summarize(improved_fraction(users, k))))
    metrics.update(interval_metrics("users_worse_frac",
                                    summarize(improved_fraction(users, k, sign=-1))))
    for column in ("kept_per_user", "filter_precision", "retrieved_precision"):
        metrics.update(interval_metrics(column, summarize(filter_stats[column])))
    evaluated = users[(users["retrieved"] == k) & (users["variant"] == "coda")]
    metrics.update({
        "retrieved_per_user": k,
        "num_users_evaluated": int(evaluated.dropna(subset=["auc"])["user"].nunique()),
        "num_users": int(evaluated["user"].nunique()),
        "num_seeds": int(main["seed"].nunique()),
        **cost,
    })
    sweep = runs[runs["seed"] == seed]
    return Report(
        name="coda", title="CoDA: on-device personalisation with cloud-retrieved samples",
        metrics=metrics, claims=_claims(main, cost),
        figures={"gauc_per_variant": _gauc_plot(main), "per_user_gain": _gain_plot(users, k),
                 "gauc_vs_retrieved": _sweep_plot(sweep)},
        tables={"runs": runs.round(6), "filter": filter_stats.round(6)},
        notes=NOTES.format(k=k, outside=matching["outside_per_user"]),
        histories=loss_histories(cloud_training_loss),
    )


NOTES = """## How this was measured
- Users: every Amazon Electronics user with more rows than the held-out test rows; each
  user's last rows are its test set, the earlier rows its local data (on its device) and part
  of the cloud's global pool. gAUC: impression-weighted mean of per-user AUC over the users
  whose test rows hold both a click and a non-click; AUC: all test rows in one ranking.
- What goes up: one interest embedding per device (the mean cloud-model embedding of the items
  it clicked locally). What comes down: the cloud model, {k} coarse-matched pool samples and
  {outside} random pool samples (the classifier's "outside" class).
- Variants share the cloud model of their seed and the fine-tuning budget (same steps, batch
  size and learning rate per user); `local_random` adds as many random pool samples as
  `coda` keeps for that user. Claims hold only when the 95% interval of the paired difference
  over seeds lies above zero.
- filter_precision: share of kept samples produced by a user who also clicked one of the
  requesting user's held-out items (retrieved_precision: the same before the filter).
"""
