"""Report of the anon_embed pipeline: accuracies over seeds, tracking attacks, trade-off curve."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dcpipelines.core.claims import at_least, beats, interval_metrics, summarize
from dcpipelines.core.plotting import PALETTE, bars_with_intervals, new_figure
from dcpipelines.core.reporting import Claim, Report, loss_history

VARIANTS = ["central", "on_device", "static_embedding", "anon_gaussian", "anon_beta", "new_user"]
CLOSE_PREFIX = "anon_beta_close_"


def per_seed_accuracy(scores: pd.DataFrame) -> pd.DataFrame:
    """Accuracy (scored targets pooled over users) per variant and seed."""
    sums = scores.groupby(["variant", "seed"])[["correct", "count"]].sum()
    return (sums["correct"] / sums["count"]).rename("acc").reset_index()


def per_seed_macro_f1(scores: pd.DataFrame) -> pd.DataFrame:
    """Macro F1 of every variant on every seed."""
    from sklearn.metrics import f1_score

    rows = [{"variant": v, "seed": s, "f1": f1_score(g["label"], g["pred"], average="macro")}
            for (v, s), g in scores.groupby(["variant", "seed"])]
    return pd.DataFrame(rows)


def _values(table: pd.DataFrame, variant: str, column: str) -> list[float]:
    return table[table["variant"] == variant].sort_values("seed")[column].tolist()


def _accuracy_metrics(cls_acc: pd.DataFrame, cls_f1: pd.DataFrame,
                      gen_acc: pd.DataFrame) -> dict[str, float]:
    metrics: dict[str, float] = {}
    variants = VARIANTS + sorted(v for v in cls_acc["variant"].unique() if v.startswith(CLOSE_PREFIX))
    for v in variants:
        metrics.update(interval_metrics(f"{v}_acc", summarize(_values(cls_acc, v, "acc"))))
        metrics.update(interval_metrics(f"{v}_macro_f1", summarize(_values(cls_f1, v, "f1"))))
        if v in VARIANTS:
            metrics.update(interval_metrics(f"{v}_next_word_acc",
                                            summarize(_values(gen_acc, v, "acc"))))
    return metrics


def _attack_metrics(cls_attacks: pd.DataFrame, gen_attacks: pd.DataFrame) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for prefix, table in [("", cls_attacks), ("gen_", gen_attacks)]:
        metrics[f"{prefix}tracking_chance"] = float(table["chance"].iloc[0])
        for variant in table["variant"].unique():
            name = {"anon_beta": "", "static_embedding": "static_",
                    "anon_gaussian": "gaussian_"}.get(variant, f"{variant}_")
            est = summarize(_values(table, variant, "best"))
            metrics.update(interval_metrics(f"{prefix}{name}tracking_attack_acc", est))
    return metrics


def _claims(cls_acc, cls_f1, gen_acc, cls_attacks, overhead) -> list[Claim]:
    claims = []
    for task, table, what in [("sentiment", cls_acc, "accuracy"), ("next word", gen_acc, "accuracy")]:
        beta = _values(table, "anon_beta", "acc")
        for rival in ["central", "on_device"]:
            claims.append(beats(f"anon_beta above {rival} ({task} {what})", "anon_beta", beta,
                                rival, _values(table, rival, "acc")))
        claims.append(beats(f"anon_beta within 1 point of static_embedding ({task})",
                            "anon_beta", beta, "static_embedding",
                            _values(table, "static_embedding", "acc"), margin=-0.01))
    chance = float(cls_attacks["chance"].iloc[0])
    attack = summarize(_values(cls_attacks, "anon_beta", "best"))
    claims.append(Claim("tracking attack on anon_beta at most 2x chance (sentiment users)",
                        f"{attack.text()} against 2 x chance = {2 * chance:.4g}",
                        attack.ci_high <= 2 * chance if attack.has_interval else None))
    claims.append(at_least("static_embedding fully trackable (top-1 linkage)",
                           "static attack", _values(cls_attacks, "static_embedding", "best"), 0.99))
    pct = overhead["inference_overhead_pct"]
    claims.append(Claim("sampled prefix at most 2% slower at batch 1",
                        f"{pct:+.2f}% ({overhead['inference_with_prefix_ms']:.3f} ms vs "
                        f"{overhead['inference_without_prefix_ms']:.3f} ms; one run)", pct <= 2.0))
    return claims


def _tradeoff(cls_acc: pd.DataFrame, cls_attacks: pd.DataFrame) -> pd.DataFrame:
    """Per personalised variant: mean accuracy and mean best-attack accuracy over seeds."""
    acc = cls_acc.groupby("variant")["acc"].mean()
    attack = cls_attacks.groupby("variant")["best"].mean()
    table = pd.DataFrame({"acc": acc, "attack_acc": attack}).dropna().reset_index()
    table["closeness"] = [float(v[len(CLOSE_PREFIX):]) if v.startswith(CLOSE_PREFIX)
                          else (0.0 if v == "anon_beta" else np.nan) for v in table["variant"]]
    return table.sort_values(["closeness", "variant"]).reset_index(drop=True)


def _plot_per_user(cls_scores: pd.DataFrame):
    test = cls_scores[cls_scores["variant"].isin(["central", "anon_beta"])]
    per_user = test.groupby(["variant", "user"])[["correct", "count"]].sum()
    acc = (per_user["correct"] / per_user["count"]).unstack("variant")
    fig, ax = new_figure(title="per-user sentiment accuracy (test period, mean over seeds)")
    ax.scatter(acc["central"], acc["anon_beta"], color=PALETTE[0])
    low, high = float(np.nanmin(acc.to_numpy())), float(np.nanmax(acc.to_numpy()))
    ax.plot([low, high], [low, high], color=PALETTE[7], linestyle="--", label="equal")
    ax.set_xlabel("central")
    ax.set_ylabel("anon_beta")
    ax.legend()
    return fig


def _plot_tradeoff(tradeoff: pd.DataFrame, chance: float):
    fig, ax = new_figure(title="privacy-utility: tracking attack vs sentiment accuracy")
    for i, row in tradeoff.iterrows():
        ax.scatter(row["attack_acc"], row["acc"], color=PALETTE[i % len(PALETTE)],
                   label=row["variant"])
    sweep = tradeoff.dropna(subset=["closeness"])
    ax.plot(sweep["attack_acc"], sweep["acc"], color=PALETTE[4], alpha=0.6)
    ax.axvline(chance, color=PALETTE[7], linestyle=":", label="chance")
    ax.axvline(2 * chance, color=PALETTE[7], linestyle="--", label="2 x chance")
    ax.set_xlabel("tracking attack top-1 accuracy")
    ax.set_ylabel("sentiment accuracy")
    ax.legend(fontsize=7)
    return fig


def _plot_projection(projection: pd.DataFrame):
    variants = list(projection["variant"].unique())
    fig, axes = new_figure(ncols=len(variants), title="sampled embeddings (2-D PCA), by user")
    for ax, variant in zip(np.atleast_1d(axes), variants, strict=True):
        part = projection[projection["variant"] == variant]
        for user, points in part.groupby("user"):
            ax.scatter(points["pc1"], points["pc2"], s=8, color=PALETTE[int(user) % len(PALETTE)])
        ax.set_title(variant)
    return fig


def _plot_accuracy(cls_acc: pd.DataFrame, gen_acc: pd.DataFrame):
    fig, axes = new_figure(ncols=2, title="accuracy over seeds (95% intervals)")
    for ax, table, label in [(axes[0], cls_acc, "sentiment accuracy"),
                             (axes[1], gen_acc, "next-word accuracy")]:
        ests = [summarize(_values(table, v, "acc")) for v in VARIANTS]
        bars_with_intervals(ax, VARIANTS, [e.mean for e in ests], [e.ci_low for e in ests],
                            [e.ci_high for e in ests], ylabel=label)
        ax.set_ylim(min(e.ci_low for e in ests) * 0.95, max(e.ci_high for e in ests) * 1.02)
    return fig


def training_histories(cls_central: dict, cls_cloud: dict, gen_central: dict,
                       gen_cloud: dict) -> dict[str, pd.DataFrame]:
    """Training loss per step: the central model of each task and seed (``cls_seed<N>``,
    ``gen_seed<N>``), and the cloud fine-tuning of every variant with the first seed."""
    central = {f"{task}_seed{s}": bundle.loss_history
               for task, models in (("cls", cls_central), ("gen", gen_central))
               for s, bundle in sorted(models.items())}
    cloud = {f"{task}_{variant}": bundle.loss_history
             for task, models in (("cls", cls_cloud), ("gen", gen_cloud))
             for variant, bundle in models[min(models)].items()}
    return {"central_loss": loss_history(**central), "cloud_loss": loss_history(**cloud)}


def report_anon_embed(cls_scores: pd.DataFrame, gen_scores: pd.DataFrame,
                      cls_attacks: pd.DataFrame, gen_attacks: pd.DataFrame,
                      projection: pd.DataFrame, overhead: dict, params: dict,
                      histories: dict[str, pd.DataFrame]) -> Report:
    """Metrics named in the method's brief, claims judged over seeds, plots, tables and the
    training curves."""
    cls_acc, gen_acc = per_seed_accuracy(cls_scores), per_seed_accuracy(gen_scores)
    cls_f1 = per_seed_macro_f1(cls_scores)
    metrics = {**_accuracy_metrics(cls_acc, cls_f1, gen_acc),
               **_attack_metrics(cls_attacks, gen_attacks), **overhead,
               "num_users_cls": int(cls_scores.loc[cls_scores["user"] >= 0, "user"].nunique()),
               "num_users_gen": int(gen_scores.loc[gen_scores["user"] >= 0, "user"].nunique()),
               "num_seeds": int(cls_acc["seed"].nunique())}
    tradeoff = _tradeoff(cls_acc, cls_attacks)
    figures = {"per_user_accuracy": _plot_per_user(cls_scores),
               "privacy_utility": _plot_tradeoff(tradeoff, metrics["tracking_chance"]),
               "embedding_projection": _plot_projection(projection),
               "accuracy": _plot_accuracy(cls_acc, gen_acc)}
    attacks = pd.concat([cls_attacks.assign(task="sentiment"), gen_attacks.assign(task="next word")])
    tables = {"Privacy-utility trade-off (sentiment)": tradeoff.round(4),
              "Tracking attacks per seed": attacks.round(4)}
    return Report("anon_embed", "Anonymous user embeddings: personalisation without user ids",
                  metrics, _claims(cls_acc, cls_f1, gen_acc, cls_attacks, overhead), figures,
                  tables, notes=params.get("notes", ""), histories=histories)
