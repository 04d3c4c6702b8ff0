"""The fed_influence report: metrics, claims, plots and tables (the wiring lives in nodes.py)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from dcpipelines.core.claims import at_least, beats, summarize_all
from dcpipelines.core.plotting import new_figure
from dcpipelines.core.reporting import Claim, Report

GOOD_SPEARMAN = 0.9  # agreement with leave-one-out the paper's "small bias" should reach
MAX_COST_VS_LOO = 0.2  # estimation at most this share of leave-one-out's FLOPs at the largest K


def _spearman(a: pd.Series, b: pd.Series) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b)[0])


def _per_seed(table: pd.DataFrame) -> dict[str, list[float]]:
    """Agreement figures of one setting, one value per seed."""
    from scipy.stats import pearsonr

    out: dict[str, list[float]] = {}
    for _, t in table.groupby("seed", sort=True):
        figures = {
            "spearman": _spearman(t["estimated_param_norm"], t["true_param_norm"]),
            "pearson": float(pearsonr(t["estimated_param_norm"], t["true_param_norm"])[0]),
            "loss_spearman": _spearman(t["estimated_test_loss_change"],
                                       t["true_test_loss_change"]),
            "loss_pearson": float(pearsonr(t["estimated_test_loss_change"],
                                           t["true_test_loss_change"])[0]),
            "cosine": float(t["cosine"].mean()),
            "relative_error": float(t["relative_error"].mean()),
            "size_baseline_spearman": _spearman(t["num_samples"], t["true_param_norm"]),
            "test_accuracy": float(t["test_accuracy"].iloc[0]),
        }
        for name, value in figures.items():
            out.setdefault(name, []).append(value)
    return out


def _debug_per_seed(ranking: pd.DataFrame, k: int) -> dict[str, list[float]]:
    """Precision@k of the estimator, a random ranking and a size-only ranking, per seed."""
    out: dict[str, list[float]] = {}
    for (corruption, _), t in ranking.groupby(["corruption", "seed"], sort=True):
        by = {"": t.sort_values("rank"), "_random": t.sort_values("random_rank"),
              "_size": t.sort_values("num_samples", ascending=False, kind="stable")}
        for suffix, ordered in by.items():
            key = f"debug_{corruption}_precision_at_k{suffix}"
            out.setdefault(key, []).append(float(ordered["corrupted"].head(k).mean()))
    return out


def _cost_metrics(cost: pd.DataFrame) -> dict[str, float]:
    out: dict[str, float] = {}
    for row in cost.itertuples(index=False):
        k = int(row.num_clients)
        out[f"overhead_vs_loo_ratio_k{k}"] = row.estimation_flops / row.leave_one_out_flops
        out[f"subset_overhead_vs_loo_ratio_k{k}"] = (row.subset_estimation_flops
                                                     / row.leave_one_out_flops)
        out[f"estimation_vs_plain_flops_ratio_k{k}"] = row.estimation_flops / row.plain_flops
        out[f"estimation_vs_loo_k{k}_cpu_overhead_ratio"] = (row.estimation_cpu_seconds
                                                             / row.leave_one_out_cpu_seconds)
        out[f"subset_vs_loo_k{k}_cpu_overhead_ratio"] = (row.subset_estimation_cpu_seconds
                                                         / row.leave_one_out_cpu_seconds)
        out[f"sweep_spearman_k{k}"] = float(row.spearman)
        out[f"sweep_cosine_k{k}"] = float(row.cosine)
    return out


def _scatter(table: pd.DataFrame, title: str) -> Figure:
    first = table[table["seed"] == table["seed"].min()]
    fig, axes = new_figure(2, width=9, height=4, title=f"{title} (first seed)")
    for ax, (est, true, label) in zip(axes, [
        ("estimated_param_norm", "true_param_norm", "norm of theta^-k - theta"),
        ("estimated_test_loss_change", "true_test_loss_change", "test loss change without k"),
    ], strict=True):
        ax.scatter(first[true], first[est], s=18)
        lo = min(first[true].min(), first[est].min())
        hi = max(first[true].max(), first[est].max())
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8)
        ax.set_xlabel(f"leave-one-out: {label}")
        ax.set_ylabel("estimated")
        ax.grid(alpha=0.3)
    return fig


def _cost_figure(cost: pd.DataFrame) -> Figure:
    fig, ax = new_figure(width=6, height=4, title="Cost against leave-one-out")
    for column, label in [("plain_flops", "plain run"), ("estimation_flops", "with estimation"),
                          ("subset_estimation_flops", "estimation, tracked subset"),
                          ("leave_one_out_flops", "leave-one-out (K + 1 runs)")]:
        ax.plot(cost["num_clients"], cost[column], marker="o", label=label)
    ax.set_xlabel("clients K")
    ax.set_ylabel("FLOPs (matrix products)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def _agreement_claims(per: dict[str, dict[str, list[float]]]) -> list[Claim]:
    p = per["partial_participation"]
    return [
        at_least("The estimate approximates leave-one-out influence (convex, full participation)",
                 "Spearman", per["convex"]["spearman"], GOOD_SPEARMAN),
        at_least("... and on a non-convex model", "Spearman", per["nonconvex"]["spearman"],
                 GOOD_SPEARMAN),
        at_least("... in the paper's setting: partial participation, local mini-batch SGD "
                 "(non-convex)", "Spearman", p["spearman"], GOOD_SPEARMAN),
        beats("The estimate ranks clients better than their size alone (paper's setting)",
              "estimator Spearman", p["spearman"], "size-only Spearman",
              p["size_baseline_spearman"]),
    ]


def _cost_claims(cost: pd.DataFrame) -> list[Claim]:
    last = cost.sort_values("num_clients").iloc[-1]
    k = int(last["num_clients"])
    full = float(last["estimation_flops"] / last["leave_one_out_flops"])
    subset = float(last["subset_estimation_flops"] / last["leave_one_out_flops"])
    ratios = ", ".join(f"K={int(r.num_clients)}: {r.estimation_flops / r.leave_one_out_flops:.2f}"
                       for r in cost.itertuples(index=False))
    return [
        Claim(f"Estimation costs at most {MAX_COST_VS_LOO}x leave-one-out retraining at K={k} "
              "(every client tracked)",
              f"FLOPs of the run with estimation / leave-one-out: {ratios}. Tracking every "
              "client costs one Jacobian-vector product per tracked client per participating "
              "client and local step, so it grows with K like retraining does",
              full <= MAX_COST_VS_LOO),
        Claim(f"... tracking a chosen subset of {int(last['tracked_clients'])} clients",
              f"{subset:.3f}x leave-one-out's FLOPs at K={k}", subset <= MAX_COST_VS_LOO),
    ]


def report_fed_influence(
    convex: pd.DataFrame, nonconvex: pd.DataFrame, partial: pd.DataFrame, ranking: pd.DataFrame,
    cost: pd.DataFrame, convex_history: pd.DataFrame, partial_history: pd.DataFrame,
    debugging: dict,
) -> Report:
    """Agreement with leave-one-out over seeds, debugging precision, cost as K grows."""
    per = {"convex": _per_seed(convex), "nonconvex": _per_seed(nonconvex),
           "partial_participation": _per_seed(partial)}
    k = int(debugging["k"])
    debug = _debug_per_seed(ranking, k)
    head = f"debug_{debugging['headline']}_precision_at_k"
    metrics: dict[str, float] = {"k": k, "num_clients": int(convex["client"].nunique()),
                                 "seeds": int(convex["seed"].nunique())}
    for name, figures in per.items():
        metrics.update(summarize_all({f"{name}_{key}": v for key, v in figures.items()}))
    metrics["size_baseline_spearman"] = metrics["partial_participation_size_baseline_spearman"]
    metrics.update(summarize_all(debug))
    metrics["debug_precision_at_k_mean"] = metrics[head]
    metrics["debug_precision_at_k_ci_low"] = metrics[f"{head}_ci_low"]
    metrics["debug_precision_at_k_ci_high"] = metrics[f"{head}_ci_high"]
    metrics["debug_precision_at_k_random"] = metrics[f"{head}_random"]
    metrics["debug_precision_at_k_size"] = metrics[f"{head}_size"]
    metrics.update(_cost_metrics(cost))
    claims = _agreement_claims(per) + [
        beats(f"Fed-Influence finds the corrupted clients ({debugging['headline']}) better "
              "than a random ranking", "estimator precision@k", debug[head],
              "random precision@k", debug[f"{head}_random"]),
    ] + [beats(f"... with the corruption {name}", "estimator precision@k",
               debug[f"debug_{name}_precision_at_k"], "random precision@k",
               debug[f"debug_{name}_precision_at_k_random"])
         for name in debugging["corruptions"] if name != debugging["headline"]
         ] + _cost_claims(cost)
    figures = {"convex_influence": _scatter(convex, "Logistic regression (convex)"),
               "nonconvex_influence": _scatter(nonconvex, "Tanh MLP (non-convex)"),
               "partial_influence": _scatter(partial, "Tanh MLP, partial participation, SGD"),
               "cost_against_leave_one_out": _cost_figure(cost)}
    drop = ["plain_train_seconds", "influence_train_seconds"]
    tables = {"convex": convex.drop(columns=drop), "nonconvex": nonconvex.drop(columns=drop),
              "partial_participation": partial.drop(columns=drop), "debug_ranking": ranking,
              "cost_sweep": cost}
    return Report(name="fed_influence", title="Fed-Influence: client influence on the model",
                  metrics=metrics, claims=claims, figures=figures,
                  tables={k_: t.round(6) for k_, t in tables.items()}, notes=NOTES,
                  histories={"convex_rounds": convex_history,
                             "partial_participation_rounds": partial_history})


NOTES = """## What was implemented
- Influence of client k: theta_T - theta_T^{-k} (final model with every client minus the
  one trained without k, same initial model, same sampled clients and batches). We carry
  Delta_k = theta^{-k} - theta through the single training run: each round, every
  participating client returns its locally trained model and the Jacobian-vector products of
  its local training along the tracked Delta_k (forward-mode autodiff through its local steps:
  Hessian-vector products on its own batches); the server combines them with the round's
  without-k weights and adds the exact shift n_k / (N_S - n_k) (theta_{t+1} - u_k) when k took
  part. No client data leave the client; no retraining.
- Settings: full participation with full-batch local gradient descent (`convex_*`,
  `nonconvex_*`), and the paper's setting, `partial_participation_*`: a seeded sample of
  clients per round and local mini-batch SGD (non-convex MLP). Every figure is a mean over
  seeds with a 95% t interval (`*_ci_low`, `*_ci_high`).
- Agreement: Spearman / Pearson on the norm of the parameter difference (the paper's notion);
  `*_cosine` and `*_relative_error` compare the estimated and true difference vectors per
  client (mean over clients); `*_loss_*` on the test-loss change (first order);
  `size_baseline_spearman`: clients ranked by sample count alone.
- Debugging (paper's setting): k clients get all (`flipped_all`) or 30% (`flipped_30pct`) of
  their labels y replaced by 9 - y; clients ranked by the estimated change of the validation
  loss when removed (most negative first); precision@k against a seeded random ranking and a
  size-only ranking.
- Cost (`cost_sweep` table): FLOPs of the matrix products (torch's flop counter, one round
  counted and scaled) and CPU seconds of a plain run, the run with estimation (every client;
  a tracked subset) and leave-one-out retraining (K + 1 runs), for each K.
  `overhead_vs_loo_ratio_k<K>` = estimation FLOPs / leave-one-out FLOPs. CPU-time ratios are
  machine-dependent (`*_cpu_overhead_ratio`).
"""
