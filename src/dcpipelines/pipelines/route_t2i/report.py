"""The RouteT2I report: metrics, the paper's claims against ours, plots and tables.

Three steps keep each node small: model figures (scorer, generators, predictor, timing),
quality figures (per side and dimension, under money and latency budgets), the report tables;
then :func:`report_route_t2i` puts them together with the routing figures.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dcpipelines.core.plotting import new_figure
from dcpipelines.core.reporting import Claim, Report

PAPER = {"gain_b50": 0.8397, "random_b50": 0.40, "zooter_b50": 0.7795, "saved": 0.7024}
SIDES = ("edge", "cloud")


def summarise_models(generators_model: dict[str, Any], scorer_model: dict[str, Any],
                     scorer_validation: pd.DataFrame, generation_info: dict[str, Any],
                     router_models: dict[str, Any], timing: dict[str, float], model_source: Any) -> dict[str, float]:
    """Scorer agreement, generator sizes and speeds, final training losses and routing time."""
    judged = scorer_validation["judgements"].sum()
    m = {"scorer_agreement": float((scorer_validation["agreement"] * scorer_validation["judgements"]).sum()
                                   / judged)}
    for _, row in scorer_validation.iterrows():
        m[f"scorer_agreement_{row['kind']}_{row['dimension']}"] = float(row["agreement"])
    m.update(timing)
    m["local_models"] = float(model_source.local)
    for side in SIDES:
        m[f"{side}_generator_params"] = generation_info[side]["parameters"]
        m[f"{side}_generation_ms_per_image"] = 1e3 * generation_info[side]["s_per_image"]
        if not model_source.local:
            m[f"{side}_generator_final_loss"] = generators_model[side]["loss_history"][-1]
    if not model_source.local:
        m["scorer_final_loss"] = scorer_model["loss_history"][-1]
    m["predictor_final_loss"] = router_models["loss_history"][-1]
    return m


def summarise_quality(scene_prompts: pd.DataFrame, measured_quality: pd.DataFrame,
                      cost_budgets: pd.DataFrame, prompt_mix: pd.DataFrame) -> dict[str, float]:
    """Mean test quality per side and dimension, quality under money and latency budgets, and
    the PartiPrompts mix."""
    from dcpipelines.core.routing.evaluation import quality_dimensions

    dims = quality_dimensions(measured_quality)
    m: dict[str, float] = {"quality_dimensions": len(dims)}
    test_ids = scene_prompts.loc[scene_prompts["split"] == "test", "prompt_id"]
    for side in SIDES:
        test_side = measured_quality[(measured_quality["side"] == side)
                                     & measured_quality["prompt_id"].isin(test_ids)]
        for d in dims:
            m[f"quality_{side}_{d}"] = float(test_side[d].mean())
    for _, row in cost_budgets.iterrows():
        tag = f"{row['budget']}_{row['value']:g}".replace(".", "p")
        m[f"cloud_share_at_{tag}"] = row["allowed_cloud_share"]
        for name in ("routet2i", "random", "oracle"):
            m[f"quality_{name}_at_{tag}"] = row[f"quality_{name}"]
    m["partiprompts_prompts"] = int(prompt_mix["prompts"].sum())
    m["partiprompts_challenges"] = len(prompt_mix)
    return m


def report_tables(prompt_mix: pd.DataFrame, scene_prompts: pd.DataFrame, measured_quality: pd.DataFrame,
                  router_predictions: pd.DataFrame, routing_curves: pd.DataFrame,
                  scorer_validation: pd.DataFrame, cost_table: pd.DataFrame,
                  cost_budgets: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The report's tables, by title."""
    from dcpipelines.core.routing.evaluation import quality_dimensions

    levels = scene_prompts[scene_prompts["split"] == "test"].merge(
        measured_quality.pivot_table(index="prompt_id", columns="side", values="mean_quality").reset_index(),
        on="prompt_id")
    by_level = levels.groupby("challenge").agg(prompts=("prompt_id", "size"), edge=("edge", "mean"),
                                           cloud=("cloud", "mean")).reset_index()
    by_level["cloud_minus_edge"] = by_level["cloud"] - by_level["edge"]
    key_cols = ["prompt_id"] + [f"key_tokens_{d}" for d in quality_dimensions(measured_quality)]
    keys = router_predictions[key_cols].head(8).merge(scene_prompts[["prompt_id", "prompt"]], on="prompt_id")
    headline = routing_curves[routing_curves["cloud_share"].round(6).isin([0.25, 0.5, 0.75])]
    headline = headline.pivot_table(index="router", columns="cloud_share", values="gain_recovered").reset_index()
    headline.columns = ["router"] + [f"gain_recovered_at_{c:g}" for c in headline.columns[1:]]
    return {"gain recovered by router and budget": headline,
            "quality by prompt difficulty or challenge (test)": by_level,
            "scorer agreement with ground truth": scorer_validation,
            "key tokens per quality dimension (first test prompts)": keys,
            "cost per budget": cost_table,
            "quality under money and latency budgets": cost_budgets,
            "PartiPrompts challenge mix": prompt_mix}


def _claims(m: dict[str, float]) -> list[Claim]:
    def b50(name: str) -> float:
        return m[f"gain_recovered_{name}_b50"]

    return [
        Claim("At a 50% cloud rate RouteT2I recovers 83.97% of the edge-to-cloud quality gain",
              f"{b50('routet2i'):.1%}", b50("routet2i") >= PAPER["gain_b50"]),
        Claim("RouteT2I recovers more of the gain than random routing at 50% (83.97% vs 40.00%)",
              f"{b50('routet2i'):.1%} vs {b50('random'):.1%} (random: mean over seeded orders)",
              b50("routet2i") > b50("random")),
        Claim("RouteT2I beats single-metric reward routing (ZOOTER 77.95%) at 50%",
              f"{b50('routet2i'):.1%} vs {b50('single_metric'):.1%} (our single-metric predictor)",
              b50("routet2i") > b50("single_metric")),
        Claim("70.24% fewer cloud requests than random to reach 50% of the gain",
              f"{m['cloud_requests_saved_vs_random_at_half_gain']:.1%} "
              f"({m['cloud_fraction_for_half_gain_routet2i']:.1%} vs "
              f"{m['cloud_fraction_for_half_gain_random']:.1%} of prompts)",
              m["cloud_requests_saved_vs_random_at_half_gain"] >= PAPER["saved"]),
    ]


def report_route_t2i(routing_metrics: dict[str, float], model_metrics: dict[str, float],
                     quality_metrics: dict[str, float], tables: dict[str, pd.DataFrame],
                     routing_curves: pd.DataFrame, example_images: dict[str, np.ndarray],
                     generation_info: dict[str, Any], measured_quality: pd.DataFrame) -> Report:
    """The report: the figures the pipeline measures, the paper's claims against ours, plots, tables."""
    from dcpipelines.core.routing.evaluation import quality_dimensions

    m = {**routing_metrics, **model_metrics, **quality_metrics}
    figures = {"quality_vs_budget": _quality_plot(routing_curves)}
    if "edge" in example_images:
        figures["examples"] = _examples_plot(example_images)
    return Report(
        name="route_t2i",
        title="RouteT2I: edge/cloud routing of text-to-image prompts under a cloud budget",
        metrics=m, claims=_claims(m), figures=figures, tables=tables,
        notes=_notes(m, bool(m["local_models"]), quality_dimensions(measured_quality), generation_info),
    )


def _quality_plot(curves: pd.DataFrame) -> Figure:
    fig, ax = new_figure(width=6.4, height=4.2, title="Quality vs cloud budget, held-out prompts")
    for name, part in curves.groupby("router", sort=False):
        style = {"oracle": ":", "oracle_prs": ":", "random": "--"}.get(name, "-")
        ax.plot(part["cloud_share"], part["quality"], style, label=name, linewidth=1.4)
    ax.set_xlabel("cloud budget (share of prompts sent to the cloud)")
    ax.set_ylabel("mean measured quality of the images served")
    ax.legend()
    return fig


def _examples_plot(examples: dict[str, np.ndarray]) -> Figure:
    rows = [r for r in ("rendered", "edge", "cloud") if r in examples]
    n = len(examples["prompts"])
    fig, axes = new_figure(n, len(rows), width=1.6 * n, height=5.2 / len(rows))
    axes = np.asarray(axes).reshape(len(rows), n)
    for r, row in enumerate(rows):
        for c in range(n):
            ax = axes[r][c]
            ax.grid(False)
            ax.imshow(examples[row][c], interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(row)
            if r == 0:
                ax.set_title("\n".join(textwrap.wrap(str(examples["prompts"][c]), 22)), fontsize=6)
    return fig


def _notes(m: dict[str, float], local: bool, dims: list[str], info: dict[str, Any]) -> str:
    if local:
        world = f"""Local models: {int(m['test_prompts'])} held-out PartiPrompts prompts; the edge
pipeline ({info['edge']['source']}, {int(m['edge_generator_params']):,} parameters) and the
cloud pipeline ({info['cloud']['source']}, {int(m['cloud_generator_params']):,}) generated the
images, and the local CLIP model scored {len(dims)} quality dimensions ({', '.join(dims)}) with
positive/negative text pairs. Scorer agreement ({m['scorer_agreement']:.1%}) is CLIP's agreement
with rendered scenes' true text pairs and with controlled degradations (blur, desaturation,
noise, darkening: the degraded copy must score lower)."""
    else:
        world = f"""The world is small but learned: a renderer draws {int(m['test_prompts'])} held-out
test scenes (24x24 RGB here by default); the edge generator ({int(m['edge_generator_params']):,}
parameters) and the cloud generator ({int(m['cloud_generator_params']):,}) were trained here on
rendered scenes from MiniLM prompt embeddings; a CLIP-style scorer trained here measures
{len(dims)} quality dimensions ({', '.join(dims)}) with positive/negative text pairs (agreement with
the renderer's ground truth {m['scorer_agreement']:.1%})."""
    return f"""## How to read this
{world}

Quality is the mean over dimensions of the *measured* quality of the image each prompt got.
`oracle` routes by the true measured mean-quality gain (the best any router can do for this
quality); `oracle_prs` routes by the true Pareto relative superiority, showing how good PRS
ordering itself is for mean quality. `predictor_mean_gain` uses the RouteT2I predictor's
per-dimension outputs but orders by mean gain instead of PRS.

Why PRS ordering trails here: at a 50% cloud rate the true PRS order recovers
{m['gain_recovered_oracle_prs_b50']:.1%} of the gain against {m['gain_recovered_oracle_b50']:.1%}
for the true mean-gain order, and RouteT2I's *predicted* PRS recovers
{m['gain_recovered_routet2i_b50']:.1%} (the same predictor ordered by predicted mean gain:
{m['gain_recovered_predictor_mean_gain_b50']:.1%}). PRS is scale-free: it says which side the
relative differences favour, not how large they are. A prompt where the cloud is slightly better
on nine dimensions and slightly worse on one gets a lower PRS, and goes to the cloud earlier,
than a prompt where the cloud is far better on eight and somewhat worse on two. Where the cloud
wins on mean quality for most prompts, as here, the size of the gain matters more than its
direction, so the limit is the PRS criterion, not the quality predictor.

On the test prompts the cloud image is better on mean quality for
{1 - m['edge_better_share_test']:.1%} of prompts and Pareto-dominates on
{m['cloud_dominates_share_test']:.1%}; where PRS is 0 for many prompts, PRS alone cannot order
them and ties are broken by the predicted mean gain ({m['predicted_prs_zero_share_test']:.1%} of
test prompts have a predicted PRS of exactly 0).

Random routing recovers, in expectation, exactly the budget share of the gain (50% at a 50% rate),
not the paper's 40.00%; the paper's figure comes from its own quality measure and data.

Money and latency budgets are turned into the largest cloud share they allow (cost table
above); a latency target caps the share only when the cloud is slower than the edge.

Not done: an `open_clip` adapter (it needs torchvision, which does not load beside this
project's torch 2.13 CPU build; the CLIP adapter uses `transformers` instead); a ZOOTER
reimplementation (the single-metric baseline is a mean-quality regressor in its spirit).
"""
