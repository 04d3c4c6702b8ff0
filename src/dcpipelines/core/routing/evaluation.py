"""RouteT2I's routers trained and judged on measured qualities: the key-token predictor and the
single-metric baseline, quality-versus-budget curves of every router, the headline figures
(gain recovered, budget to reach a target, requests saved against random) and the wall-clock
cost of a routing decision.

A measured-quality table has one row per (prompt, side) with one column per quality dimension.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dcpipelines.core.routing import budget as b
from dcpipelines.core.seeds import derive_seed

NOT_QUALITY = ("prompt_id", "side", "mean_quality", "fingerprint", "s_per_image", "generator_parameters")


def quality_dimensions(measured_quality: pd.DataFrame) -> list[str]:
    """The quality dimensions a measured-quality table holds, in column order."""
    return [c for c in measured_quality.columns if c not in NOT_QUALITY]


def wide(measured: pd.DataFrame, scene_prompts: pd.DataFrame, split: str) -> tuple[np.ndarray, np.ndarray,
                                                                                    np.ndarray]:
    """Prompt ids and per-dimension quality of edge and cloud images (N, D) each, for one split."""
    dims = quality_dimensions(measured)
    ids = scene_prompts.loc[scene_prompts["split"] == split, "prompt_id"]
    side = {s: part.set_index("prompt_id").loc[ids, dims].to_numpy() for s, part in measured.groupby("side")}
    return ids.to_numpy(), side["edge"], side["cloud"]


def measured_table(prompt_ids: np.ndarray, quality: dict[str, np.ndarray], dims: list[str]) -> pd.DataFrame:
    """One row per (prompt, side) with each dimension's quality and their mean."""
    rows = []
    for side in ("edge", "cloud"):
        part = pd.DataFrame(quality[side], columns=dims)
        part.insert(0, "side", side)
        part.insert(0, "prompt_id", prompt_ids)
        rows.append(part)
    measured = pd.concat(rows, ignore_index=True)
    measured["mean_quality"] = measured[dims].mean(axis=1)
    return measured


def train_routers(scene_prompts: pd.DataFrame, prompt_embeddings: np.ndarray, measured: pd.DataFrame,
                  seed: int, router: dict[str, Any]) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train RouteT2I's key-token predictor and the single-metric baseline on the router-training
    prompts; predict for the test prompts (one row per test prompt)."""
    from dcpipelines.core.routing.predictor import PredictorSpec, train_predictor
    from dcpipelines.core.routing.routers import train_mean_regressor
    from dcpipelines.core.routing.tokens import token_features

    in_split = {split: scene_prompts["split"].to_numpy() == split for split in ("router_train", "test")}
    _, train_edge, train_cloud = wide(measured, scene_prompts, "router_train")
    tokens = {split: token_features(scene_prompts.loc[in_split[split], "prompt"].tolist()) for split in in_split}
    content = bool(router.get("content_tokens_only", False))
    candidates = {split: tokens[split].content_mask() if content else None for split in tokens}
    settings = {k: v for k, v in router.items() if k in PredictorSpec.__dataclass_fields__}
    spec = PredictorSpec(n_dims=len(quality_dimensions(measured)), **settings)
    start = time.perf_counter()
    predictor, history = train_predictor(spec, tokens["router_train"].embeddings, tokens["router_train"].mask,
                                         train_edge, train_cloud, derive_seed(seed, "route_t2i.router_training"),
                                         candidates["router_train"])
    train_s = time.perf_counter() - start
    single = train_mean_regressor(prompt_embeddings[in_split["router_train"]], train_edge.mean(1),
                                  train_cloud.mean(1), derive_seed(seed, "route_t2i.single_metric_training"),
                                  epochs=int(router["single_metric_epochs"]))
    models = {"predictor": predictor, "single_metric": single, "test_tokens": tokens["test"],
              "test_candidates": candidates["test"], "loss_history": history, "train_s": train_s}
    return models, predict_for_test(models, prompt_embeddings[in_split["test"]], measured, scene_prompts)


def predict_for_test(models: dict[str, Any], test_embeddings: np.ndarray, measured: pd.DataFrame,
                     scene_prompts: pd.DataFrame) -> pd.DataFrame:
    """Per test prompt: predicted quality of both sides per dimension, the key tokens behind
    each dimension, the single-metric predicted gain and the prompt's token count."""
    from dcpipelines.core.routing.predictor import key_tokens, predict_quality
    from dcpipelines.core.routing.routers import predicted_mean_gain

    tokens = models["test_tokens"]
    test_ids, _, _ = wide(measured, scene_prompts, "test")
    pred_edge, pred_cloud, weights = predict_quality(models["predictor"], tokens.embeddings, tokens.mask,
                                                     candidates=models["test_candidates"])
    predictions = pd.DataFrame({"prompt_id": test_ids})
    for d, name in enumerate(quality_dimensions(measured)):
        predictions[f"edge_{name}"] = pred_edge[:, d]
        predictions[f"cloud_{name}"] = pred_cloud[:, d]
        predictions[f"key_tokens_{name}"] = [" ".join(t) for t in key_tokens(weights, tokens.tokens, d)]
    predictions["single_metric_gain"] = predicted_mean_gain(models["single_metric"], test_embeddings)
    predictions["n_tokens"] = tokens.mask.sum(1) - 2  # without [CLS] and [SEP]
    return predictions


@dataclass
class RouterCurves:
    """Mean quality served at every cloud count 0..N on the test prompts, per router, and the
    mean quality when every prompt goes to the edge or to the cloud."""

    curves: dict[str, np.ndarray]
    all_edge: float
    all_cloud: float

    @property
    def n(self) -> int:
        """How many test prompts the curves cover."""
        return len(next(iter(self.curves.values()))) - 1

    def gain_recovered(self, quality: float) -> float:
        """Share of the all-edge to all-cloud gain that ``quality`` recovers."""
        return b.gain_recovered(quality, self.all_edge, self.all_cloud)


def router_curves(measured: pd.DataFrame, scene_prompts: pd.DataFrame, predictions: pd.DataFrame,
                  seed: int, random_repeats: int) -> RouterCurves:
    """Every router's quality-versus-budget curve on the test prompts."""
    from dcpipelines.core.routing.pareto import pareto_relative_superiority
    from dcpipelines.core.routing.routers import gain_order, prompt_length_order, routet2i_order

    ids, q_edge, q_cloud = wide(measured, scene_prompts, "test")
    pred_edge, pred_cloud, pred = _predicted(predictions, ids, quality_dimensions(measured))
    mean_edge, mean_cloud = q_edge.mean(1), q_cloud.mean(1)
    orders = {
        "routet2i": routet2i_order(pred_edge, pred_cloud),
        "predictor_mean_gain": gain_order(pred_cloud.mean(1) - pred_edge.mean(1)),
        "single_metric": gain_order(pred["single_metric_gain"].to_numpy()),
        "prompt_length": prompt_length_order(pred["n_tokens"].to_numpy()),
        "oracle": gain_order(mean_cloud - mean_edge),
        "oracle_prs": b.order_by(pareto_relative_superiority(q_edge, q_cloud), -(mean_cloud - mean_edge)),
    }
    curves = {name: b.cumulative_quality(order, mean_edge, mean_cloud) for name, order in orders.items()}
    curves["random"] = b.random_curve(len(ids), mean_edge, mean_cloud, derive_seed(seed, "route_t2i.random_router"),
                                      int(random_repeats))
    return RouterCurves(curves, float(mean_edge.mean()), float(mean_cloud.mean()))


def curves_table(curves: RouterCurves) -> pd.DataFrame:
    """One row per (router, cloud share) with the quality served and the share of the
    edge-to-cloud gain it recovers."""
    n = curves.n
    rows = [{"router": name, "cloud_share": k / n, "quality": float(curve[k]),
             "gain_recovered": curves.gain_recovered(float(curve[k]))}
            for name, curve in curves.curves.items() for k in range(n + 1)]
    return pd.DataFrame(rows)


def budget_metrics(routers: RouterCurves, budgets: list[float]) -> dict[str, float]:
    """Quality and gain recovered of every router at each cloud budget, and the cloud share
    RouteT2I and random need to reach half the gain or 95% of the cloud's quality."""
    curves, n = routers.curves, routers.n
    all_edge, all_cloud = routers.all_edge, routers.all_cloud
    metrics: dict[str, float] = {"quality_all_edge": all_edge, "quality_all_cloud": all_cloud}
    for budget in budgets:
        k = b.cloud_count(n, budget)
        tag = f"b{round(100 * budget)}"
        for name, curve in curves.items():
            metrics[f"quality_{name}_{tag}"] = float(curve[k])
            metrics[f"gain_recovered_{name}_{tag}"] = b.gain_recovered(float(curve[k]), all_edge, all_cloud)
    half_gain = all_edge + 0.5 * (all_cloud - all_edge)
    share_router = b.smallest_budget_reaching(curves["routet2i"], half_gain)
    share_random = b.smallest_budget_reaching(curves["random"], half_gain)
    metrics.update({
        "cloud_fraction_for_95pct_of_cloud_quality": b.smallest_budget_reaching(curves["routet2i"], 0.95 * all_cloud),
        "cloud_fraction_for_half_gain_routet2i": share_router,
        "cloud_fraction_for_half_gain_random": share_random,
        # 0 when random needs no cloud request at all (the cloud is not better on average)
        "cloud_requests_saved_vs_random_at_half_gain": 1.0 - share_router / share_random if share_random > 0 else 0.0,
        "test_prompts": n,
    })
    return metrics


def prediction_metrics(measured: pd.DataFrame, scene_prompts: pd.DataFrame,
                       predictions: pd.DataFrame) -> dict[str, float]:
    """How the test prompts split between the sides, and how well the predictors rank gains."""
    from dcpipelines.core.routing.pareto import pareto_relative_superiority

    ids, q_edge, q_cloud = wide(measured, scene_prompts, "test")
    pred_edge, pred_cloud, pred = _predicted(predictions, ids, quality_dimensions(measured))
    mean_edge, mean_cloud = q_edge.mean(1), q_cloud.mean(1)
    true_prs = pareto_relative_superiority(q_edge, q_cloud)
    return {
        "edge_better_share_test": float((mean_edge > mean_cloud).mean()),
        "edge_prs_above_half_share_test": float((true_prs > 0.5).mean()),
        "cloud_dominates_share_test": float((true_prs == 0).mean()),
        "predicted_prs_zero_share_test": float((pareto_relative_superiority(pred_edge, pred_cloud) == 0).mean()),
        "predicted_gain_spearman": spearman(pred_cloud.mean(1) - pred_edge.mean(1), mean_cloud - mean_edge),
        "single_metric_gain_spearman": spearman(pred["single_metric_gain"].to_numpy(), mean_cloud - mean_edge),
        "predicted_quality_mae": float(np.abs(np.concatenate([pred_edge - q_edge, pred_cloud - q_cloud])).mean()),
    }


def _predicted(predictions: pd.DataFrame, ids: np.ndarray, dims: list[str]):
    pred = predictions.set_index("prompt_id").loc[ids]
    return pred[[f"edge_{d}" for d in dims]].to_numpy(), pred[[f"cloud_{d}" for d in dims]].to_numpy(), pred


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two vectors."""
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def time_routing(router_models: dict[str, Any], repeats: int, encode_prompts: int) -> dict[str, float]:
    """Wall-clock cost of a batched routing decision on this CPU: content-token mask (when the
    gate uses one), predictor forward pass and the budgeted allocation, per prompt (token
    embeddings already computed), and the MiniLM token encoding per prompt on top."""
    import torch

    from dcpipelines.core.routing.budget import allocate
    from dcpipelines.core.routing.predictor import predict_quality
    from dcpipelines.core.routing.routers import routet2i_order
    from dcpipelines.core.routing.tokens import token_features

    tokens, model = router_models["test_tokens"], router_models["predictor"]
    best = float("inf")
    for _ in range(int(repeats)):
        start = time.perf_counter()
        with torch.no_grad():
            candidates = None if router_models["test_candidates"] is None else tokens.content_mask()
            edge, cloud, _ = predict_quality(model, tokens.embeddings, tokens.mask, candidates=candidates)
        allocate(routet2i_order(edge, cloud), 0.5)
        best = min(best, time.perf_counter() - start)
    texts = [" ".join(t[1:-1]) for t in tokens.tokens[:int(encode_prompts)]]
    start = time.perf_counter()
    token_features(texts)
    encode = (time.perf_counter() - start) / max(len(texts), 1)
    return {"routing_ms_per_prompt": 1e3 * best / len(tokens.mask),
            "token_encoding_ms_per_prompt": 1e3 * encode}
