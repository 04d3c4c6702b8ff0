"""The fedsubavg report: metrics, claims, plots and tables (the wiring lives in nodes.py)."""

from __future__ import annotations

import math

import pandas as pd
from matplotlib.figure import Figure

from dcpipelines.core.claims import beats, interval_metrics, paired_difference, summarize
from dcpipelines.core.plotting import bars_with_intervals, new_figure
from dcpipelines.core.reporting import Claim, Report, history_table

STRATEGY_LABELS = {
    "fedavg": "FedAvg(M)", "fedprox": "FedProx", "fedsubavg": "FedSubAvg (N/N_r)",
    "fedsubavg_clients": "FedSubAvg (K/K_r)", "fedsubavg_dropout": "FedSubAvg, dropout",
}
MAIN = ("fedavg", "fedprox", "fedsubavg")


def rounds_to_target(curve: pd.DataFrame, target: float) -> int:
    """First evaluated round whose AUC reaches ``target`` (columns round, test); -1: never."""
    reached = curve.dropna(subset=["test"])
    reached = reached[reached["test"] >= target]
    return int(reached["round"].iloc[0]) if len(reached) else -1


def target_auc(grid: pd.DataFrame, fraction: float) -> float:
    """``fraction`` x the best final validation AUC among the strategies' chosen settings."""
    return fraction * float(grid[grid["chosen"]]["final_validation"].max())


def _per_seed(rounds: pd.DataFrame, label: str, column: str = "test") -> pd.Series:
    """Final (last evaluated) value of ``column`` per seed, in seed order."""
    part = rounds[rounds["run"] == label].dropna(subset=[column])
    return part.sort_values("round").groupby("seed")[column].last().sort_index()


def _seed_rounds(rounds: pd.DataFrame, label: str, target: float, never: int) -> list[float]:
    """Rounds to target per seed; never reached counts as ``never`` (a lower bound)."""
    out = []
    for _, part in rounds[rounds["run"] == label].groupby("seed", sort=True):
        r = rounds_to_target(part, target)
        out.append(float(never if r == -1 else r))
    return out


def click_metrics(rounds: pd.DataFrame, grid: pd.DataFrame, training: dict) -> dict:
    """Final AUC with intervals, chosen settings, rounds to the target, paired differences."""
    target = target_auc(grid, training["target_fraction"])
    mean_curve = rounds.groupby(["run", "round"], as_index=False)[["test", "grad_norm"]].mean()
    metrics: dict[str, float] = {"target_auc": target}
    for label in rounds["run"].unique():
        est = summarize(_per_seed(rounds, label))
        metrics.update({f"{label}_final_auc_mean": est.mean, f"{label}_final_auc_ci_low":
                        est.ci_low, f"{label}_final_auc_ci_high": est.ci_high})
        metrics[f"{label}_rounds_to_target"] = rounds_to_target(
            mean_curve[mean_curve["run"] == label], target)
        norms = mean_curve[mean_curve["run"] == label]["grad_norm"]
        norms = norms[norms.apply(math.isfinite)]  # a diverged run has no finite norm
        if len(norms):
            metrics[f"{label}_final_grad_norm"] = float(norms.iloc[-1])
        if label in grid["run"].values:
            chosen = grid[(grid["run"] == label) & grid["chosen"]].iloc[0]
            metrics[f"{label}_best_lr"] = float(chosen["lr"])
            metrics[f"{label}_best_server_lr"] = float(chosen["server_lr"])
            metrics[f"{label}_best_server_momentum"] = float(chosen["server_momentum"])
    for base in ("fedavg", "fedprox"):
        diff = paired_difference(_per_seed(rounds, "fedsubavg").tolist(),
                                 _per_seed(rounds, base).tolist())
        metrics.update(interval_metrics(f"fedsubavg_minus_{base}_auc", diff))
    return metrics


def sweep_metrics(sweep: pd.DataFrame) -> tuple[dict, dict[str, list[float]]]:
    """FedSubAvg - FedAvg final test AUC per setting (mean, interval) and per seed."""
    metrics, diffs = {}, {}
    for name, part in sweep.groupby("setting", sort=False):
        by = part.pivot_table(index="seed", columns="run", values="final_test")
        diffs[name] = (by["fedsubavg"] - by["fedavg"]).tolist()
        est = summarize(diffs[name])
        metrics.update(interval_metrics(f"heterogeneity_{name}_fedsubavg_minus_fedavg", est))
        metrics[f"heterogeneity_{name}_row_density"] = float(part["row_density"].iloc[0])
    return metrics, diffs


def _claims(rounds: pd.DataFrame, metrics: dict, training: dict, diffs: dict) -> list[Claim]:
    sub = _per_seed(rounds, "fedsubavg").tolist()
    never = training["rounds"] + 1
    target = metrics["target_auc"]
    claims = [
        beats(f"FedSubAvg beats the best-tuned {STRATEGY_LABELS[b]} in final test AUC on Amazon",
              "FedSubAvg", sub, STRATEGY_LABELS[b], _per_seed(rounds, b).tolist())
        for b in ("fedavg", "fedprox")
    ]
    claims.append(beats(
        f"FedSubAvg reaches the target AUC {target:.4f} in fewer rounds than tuned FedAvg(M)",
        "FedSubAvg rounds", _seed_rounds(rounds, "fedsubavg", target, never),
        "FedAvg(M) rounds", _seed_rounds(rounds, "fedavg", target, never),
        higher_is_better=False, digits=3))
    names = list(diffs)
    if len(names) >= 2:
        claims.append(beats(
            f"FedSubAvg's advantage over tuned FedAvg(M) is larger on sparse data ({names[0]}) "
            f"than on near-dense data ({names[-1]}) (Zipf sweep)", f"gain at {names[0]}",
            diffs[names[0]],
            f"gain at {names[-1]}", diffs[names[-1]]))
    return claims


def _curve_plot(rounds: pd.DataFrame, column: str, ylabel: str, title: str,
                target: float | None = None, log: bool = False) -> Figure:
    fig, ax = new_figure(width=6.4, height=4)
    curve = rounds.groupby(["run", "round"], as_index=False)[column].mean()
    curve = curve[curve[column].apply(math.isfinite)]
    for run, part in curve.groupby("run", sort=False):
        ax.plot(part["round"], part[column], label=STRATEGY_LABELS.get(run, run))
    if target is not None:
        ax.axhline(target, color="grey", linestyle="--", label="target")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("round")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    return fig


def _bars(metrics: dict, labels: list[str]) -> Figure:
    fig, ax = new_figure(width=6.4, height=4)
    bars_with_intervals(
        ax, [STRATEGY_LABELS.get(k, k) for k in labels],
        [metrics[f"{k}_final_auc_mean"] for k in labels],
        [metrics[f"{k}_final_auc_ci_low"] for k in labels],
        [metrics[f"{k}_final_auc_ci_high"] for k in labels], ylabel="final test AUC")
    ax.set_ylim(0.45, None)
    ax.set_title("Amazon: final test AUC over seeds (95% interval)")
    return fig


def _sweep_plot(metrics: dict, names: list[str]) -> Figure:
    fig, ax = new_figure(width=6.4, height=4)
    key = "heterogeneity_{}_fedsubavg_minus_fedavg"
    bars_with_intervals(ax, names, [metrics[key.format(n)] for n in names],
                        [metrics[key.format(n) + "_ci_low"] for n in names],
                        [metrics[key.format(n) + "_ci_high"] for n in names],
                        ylabel="FedSubAvg - FedAvg test AUC")
    ax.set_title("Zipf sparse data: FedSubAvg's gain by skew and density")
    return fig


def report_fedsubavg(
    click_rounds: pd.DataFrame,
    click_grid: pd.DataFrame,
    stats: dict,
    sweep: pd.DataFrame,
    script_rounds: pd.DataFrame,
    script_summary: pd.DataFrame,
    click_training: dict,
) -> Report:
    """Metrics, claims and plots of the strategy comparison."""
    metrics = click_metrics(click_rounds, click_grid, click_training)
    swept, diffs = sweep_metrics(sweep)
    metrics.update(swept)
    metrics.update({f"{k}": float(v) for k, v in stats.items()})
    metrics.update({"num_rounds": click_training["rounds"],
                    "num_seeds": int(click_rounds["seed"].nunique()),
                    "clients_per_round": click_training["clients_per_round"]})
    if "fedsubavg_dropout" in click_rounds["run"].values:
        metrics["dropout_clients_dropped"] = int(
            click_rounds[click_rounds["run"] == "fedsubavg_dropout"].groupby("seed")["dropped"]
            .first().iloc[0])
    for row in script_summary.itertuples():
        metrics[f"shakespeare_{row.run}_final_metric"] = float(row.final_metric)
    claims = _claims(click_rounds, metrics, click_training, diffs)
    s_sub, s_avg = (metrics.get(f"shakespeare_{k}_final_metric") for k in ("fedsubavg", "fedavg"))
    claims.append(Claim("The same holds on a second sparse setting (Shakespeare next word)",
                        f"accuracy {s_sub:.4f} (FedSubAvg) vs {s_avg:.4f} (FedAvg); one seed, "
                        "untuned: not judged", None))
    labels = [k for k in STRATEGY_LABELS if f"{k}_final_auc_mean" in metrics]
    figures = {
        "amazon_auc_vs_rounds": _curve_plot(click_rounds, "test", "test AUC (mean over seeds)",
                                            "Amazon Electronics: AUC vs rounds",
                                            metrics["target_auc"]),
        "amazon_elementwise_grad_norm": _curve_plot(
            click_rounds, "grad_norm", "element-wise gradient norm",
            "Amazon: ||grad F||_el^2 = sum_m (K/K_m) g_m^2 per round", log=True),
        "amazon_final_auc": _bars(metrics, labels),
        "heterogeneity_gain": _sweep_plot(metrics, list(diffs)),
        "shakespeare_accuracy_vs_rounds": _curve_plot(
            script_rounds.rename(columns={"metric": "test"}), "test", "next-word accuracy",
            "Shakespeare roles: accuracy vs rounds (one seed)"),
    }
    notes = NOTES.format(density=100 * stats["row_density"], items=stats["num_items"],
                         users=stats["num_users"], train=stats["train_samples"],
                         val=stats["validation_samples"], test=stats["test_samples"],
                         fraction=click_training["target_fraction"])
    return Report(
        name="fedsubavg", title="FedSubAvg vs tuned FedAvg(M) / FedProx on hot and cold sparse features",
        metrics=metrics, claims=claims, figures=figures,
        tables={"grid": click_grid.round(6), "heterogeneity": sweep.round(6),
                "shakespeare_runs": script_summary.drop(columns=["train_seconds"]).round(6)},
        notes=notes,
        histories={  # per-round curves (mean over seeds) of every strategy, to MLflow and dvc plots
            "amazon_auc": history_table(click_rounds, "round", "test", series="run"),
            "amazon_validation_auc": history_table(click_rounds, "round", "validation",
                                                   series="run"),
            "amazon_elementwise_grad_norm": history_table(click_rounds, "round", "grad_norm",
                                                          series="run"),
            "shakespeare_accuracy": history_table(script_rounds, "round", "metric", series="run"),
        },
    )


NOTES = """## How this was measured
- Clients: one per Amazon Electronics user; each user's last interactions are the test set,
  the ones before them the validation set, the earlier ones stay on the client. {train}
  training, {val} validation and {test} test interactions; {items} item rows and {users} user
  rows. A client involves {density:.3f}% of the item rows on average (row_density).
- Model: DIN-style with item and user embeddings (the user row joins the MLP input, as in the
  authors' model); local SGD with the learning rate decayed every round.
- Tuning: every strategy runs every client lr x server setting (server lr, server momentum)
  of the same grid at the first seed; its chosen pair has the best final validation AUC (table `grid`). The server applies
  `w += server_lr * v`, `v = momentum * v + aggregate` (FedAvgM) for every strategy. The chosen
  pair then runs at every seed; the first seed's tuning run is reused.
- Target: {fraction} x the best final validation AUC among the chosen runs, fixed from the
  tuning runs before the other seeds run; rounds to target is the first evaluated round where
  the seed-mean test AUC reaches it (-1: never).
- Claims are judged on the paired difference over seeds (95% t interval must exclude 0).
  For rounds to target, a seed that never reaches the target counts as rounds + 1.
- Element-wise gradient norm: sum over parameters of (K / K_m) x squared gradient of the
  global training loss on a fixed subset of clients (K clients, K_m of them involve parameter
  m); dense parameters have K_m = K.
- Heterogeneity: the Zipf sparse generator at several skews and a near-dense setting, both
  strategies tuned on validation the same way; table `heterogeneity`.
- Shakespeare: one client per speaking role, next-word prediction; one seed, untuned, shown
  for reference only.
"""
