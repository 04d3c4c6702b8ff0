"""RouteT2I's routers trained and judged on measured qualities: the dual-gate predictor, the
paper's three ablations, the earlier key-token gate and the RouteLLM-, Hybrid-LLM- and
ZOOTER-style baselines, trained once per seed; quality-versus-budget curves of every router; the
headline figures (gain recovered, cloud share to reach a share of the gain, requests saved
against random); the world against the paper's premise; the wall-clock cost of a routing decision.

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


PREDICTORS: dict[str, dict[str, Any]] = {  # name -> switches of the dual-gate predictor (see core/routing/dual_gate.py)
    "routet2i": {},
    "ablation_no_multi_metric": {"multi_metric": False},
    "ablation_no_token_selection": {"token_selection": False},
    "ablation_no_dual_gate": {"dual_gate": False},
    "ablation_plugin_prs": {"target": "qualities"},  # heads predict both qualities; PRS of the predictions
}
QUALITY_MODEL = "ablation_plugin_prs"  # the predictor whose predicted qualities the quality metrics judge
KEY_TOKEN_GATE = "ablation_key_token_gate"  # the earlier predictor (one key-token gate, one gate per dimension)
OPTIONAL_ROUTERS = (KEY_TOKEN_GATE,)  # trained only when named in the router settings' ``optional`` list


def optional_routers(router: dict[str, Any]) -> list[str]:
    """The opt-in routers a run asks for (``router.optional``); an unknown name is an error."""
    asked = list(router.get("optional") or [])
    unknown = [n for n in asked if n not in OPTIONAL_ROUTERS]
    if unknown:
        raise ValueError(f"route_t2i.router.optional: unknown router(s) {unknown}; choose from {list(OPTIONAL_ROUTERS)}")
    return asked


@dataclass
class RouterData:
    """What every router trains on and is tested on: token features, sentence embeddings and
    measured qualities of the router-training and the test prompts."""

    tokens: dict[str, Any]
    candidates: dict[str, np.ndarray | None]
    embeddings: dict[str, np.ndarray]
    quality: dict[str, tuple[np.ndarray, np.ndarray]]
    test_ids: np.ndarray


ROUTER_SPLITS = ("router_train", "test")


def router_prompts(scene_prompts: pd.DataFrame) -> dict[str, list[str]]:
    """The router-training and the test prompts, per split."""
    return {split: scene_prompts.loc[scene_prompts["split"] == split, "prompt"].tolist() for split in ROUTER_SPLITS}


def split_token_features(prompts: dict[str, list[str]]) -> dict[str, Any]:
    """MiniLM token features of each split's prompts (:func:`router_prompts`), packed per split
    (:func:`dcpipelines.core.routing.tokens.pack_tokens`)."""
    from dcpipelines.core.routing.tokens import pack_tokens, token_features

    return {split: pack_tokens(token_features(texts)) for split, texts in prompts.items()}


def router_data(scene_prompts: pd.DataFrame, prompt_embeddings: np.ndarray, measured: pd.DataFrame,
                content_tokens_only: bool, token_cache: dict[str, Any] | None = None) -> RouterData:
    """Token features (``token_cache``, the stored :func:`split_token_features`; computed here
    when None), sentence embeddings and qualities of both splits."""
    from dcpipelines.core.routing.tokens import unpack_tokens

    packed = token_cache if token_cache else split_token_features(router_prompts(scene_prompts))
    tokens, candidates, embeddings, quality = {}, {}, {}, {}
    test_ids = np.asarray([])
    for split in ROUTER_SPLITS:
        keep = scene_prompts["split"].to_numpy() == split
        tokens[split] = unpack_tokens(packed[split])
        if len(tokens[split].tokens) != int(keep.sum()):
            raise ValueError(f"stored token features hold {len(tokens[split].tokens)} {split} prompts, "
                             f"the run has {int(keep.sum())}; delete the token-feature cache file")
        candidates[split] = tokens[split].content_mask() if content_tokens_only else None
        embeddings[split] = prompt_embeddings[keep]
        ids, edge, cloud = wide(measured, scene_prompts, split)
        quality[split] = (edge, cloud)
        test_ids = ids if split == "test" else test_ids
    return RouterData(tokens, candidates, embeddings, quality, test_ids)


def _spec_settings(spec_type: Any, router: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in router.items() if k in spec_type.__dataclass_fields__}


BASELINE_JOB = "baselines"  # the RouteLLM-, Hybrid-LLM- and ZOOTER-style baselines of one seed: one job


def router_jobs(seeds: list[int], router: dict[str, Any]) -> list[tuple[int, str]]:
    """One job per (seed, token-level router) and one per seed for the sentence-level baselines,
    longest first."""
    parts = [*PREDICTORS, *optional_routers(router)]
    return [(int(seed), part) for part in parts for seed in seeds] + [(int(seed), BASELINE_JOB) for seed in seeds]


def train_router(data: RouterData, seed: int, part: str, router: dict[str, Any], dims: list[str],
                 ) -> dict[str, Any]:
    """One router (a dual-gate predictor, the key-token gate, or the three baselines) trained with
    one seed: its models, loss histories, test-prediction columns and (RouteT2I) gate weights."""
    from dcpipelines.core.routing.dual_gate import DualGateSpec, predict_dual_gate, train_dual_gate
    from dcpipelines.core.routing.predictor import PredictorSpec, predict_quality, train_predictor
    from dcpipelines.core.routing.routers import BASELINES, baseline_score, train_baseline

    (train_edge, train_cloud), tr, te = data.quality["router_train"], data.tokens["router_train"], data.tokens["test"]
    out: dict[str, Any] = {"models": {}, "histories": {}, "columns": {}}
    if part in PREDICTORS:
        spec = DualGateSpec(n_dims=len(dims), **_spec_settings(DualGateSpec, router), **PREDICTORS[part])
        model, out["histories"][part] = train_dual_gate(
            spec, tr.embeddings, tr.mask, train_edge, train_cloud, derive_seed(seed, "route_t2i.router_training"),
            data.candidates["router_train"])
        outputs, weights = predict_dual_gate(model, te.embeddings, te.mask, data.candidates["test"])
        kinds = ["distance"] if spec.target == "distances" else ["edge", "cloud"]
        for k, kind in enumerate(kinds):
            _put_one(out["columns"], part, kind, outputs[..., k], dims if spec.multi_metric else ["mean"])
        out["models"][part] = model
        if part == "routet2i":
            out["models"]["routet2i_weights"] = weights
    elif part == KEY_TOKEN_GATE:
        key_spec = PredictorSpec(n_dims=len(dims), **_spec_settings(PredictorSpec, router))
        model, out["histories"][part] = train_predictor(
            key_spec, tr.embeddings, tr.mask, train_edge, train_cloud, derive_seed(seed, "route_t2i.router_training"),
            data.candidates["router_train"])
        edge, cloud, _ = predict_quality(model, te.embeddings, te.mask, candidates=data.candidates["test"])
        _put_one(out["columns"], part, "edge", edge, dims)
        _put_one(out["columns"], part, "cloud", cloud, dims)
    elif part == BASELINE_JOB:
        for kind in BASELINES:
            model, out["histories"][kind] = train_baseline(
                kind, data.embeddings["router_train"], train_edge.mean(1), train_cloud.mean(1),
                derive_seed(seed, "route_t2i.single_metric_training"), epochs=int(router["baseline_epochs"]))
            out["columns"][f"{kind}_score"] = baseline_score(kind, model, data.embeddings["test"])
    else:
        raise ValueError(f"unknown router job {part!r}")
    return out


def seed_predictions(data: RouterData, seed: int, parts: list[dict[str, Any]]) -> pd.DataFrame:
    """One seed's test predictions from its routers' jobs (in job order), one row per test prompt."""
    columns: dict[str, Any] = {"seed": seed, "prompt_id": data.test_ids}
    for part in parts:
        columns.update(part["columns"])
    columns["n_tokens"] = data.tokens["test"].mask.sum(1) - 2  # without [CLS] and [SEP]
    return pd.DataFrame(columns)


def _put_one(columns: dict[str, Any], name: str, kind: str, values: np.ndarray, dims: list[str]) -> None:
    for d, dim in enumerate(dims):
        columns[f"{name}__{kind}_{dim}"] = values[:, d]


def train_routers(scene_prompts: pd.DataFrame, prompt_embeddings: np.ndarray, measured: pd.DataFrame,
                  seeds: list[int], router: dict[str, Any], workers: int = 1,
                  token_cache: dict[str, Any] | None = None) -> tuple[dict[str, Any], pd.DataFrame]:
    """Every router trained once per seed on the router-training prompts; predictions for the
    test prompts (one row per seed and test prompt). ``token_cache``: the prompts' stored token
    features (see :func:`router_data`). The first seed's RouteT2I predictor, the
    test tokens and every loss history are kept for timing, logging and the report. The
    (seed, router) trainings run in up to ``workers`` processes (:mod:`dcpipelines.core.parallel`);
    the results do not depend on it."""
    from dcpipelines.core.parallel import run_jobs
    from dcpipelines.core.routing.predictor import key_tokens

    dims = quality_dimensions(measured)
    data = router_data(scene_prompts, prompt_embeddings, measured, bool(router.get("content_tokens_only", False)),
                       token_cache)
    jobs = router_jobs(seeds, router)
    start = time.perf_counter()
    results = run_jobs(train_router, [(seed, part, router, dims) for seed, part in jobs],
                       workers, label="route_t2i: routers", shared=data)
    frames, histories = [], {}
    for i, seed in enumerate(seeds):
        parts = [r for (s, _), r in zip(jobs, results, strict=True) if s == int(seed)]
        for part in parts:
            histories.update({f"{name}_seed{seed}": h for name, h in part["histories"].items()})
        pred = seed_predictions(data, int(seed), parts)
        if i == 0:
            models = {k: v for part in parts for k, v in part["models"].items()}
            first, first_weights = models["routet2i"], models["routet2i_weights"]
            for d, dim in enumerate(dims):
                pred[f"key_tokens_{dim}"] = [" ".join(t) for t in key_tokens(first_weights, data.tokens["test"].tokens, d)]
        frames.append(pred)
    train_s = (time.perf_counter() - start) / len(seeds)  # wall time per seed (seeds may overlap)
    kept = {"predictor": first, "test_tokens": data.tokens["test"], "test_candidates": data.candidates["test"],
            "histories": histories, "train_s_per_seed": train_s,
            "mu": {side: q.mean(0) for side, q in zip(("edge", "cloud"), data.quality["router_train"], strict=True)}}
    return kept, pd.concat(frames, ignore_index=True)


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


def _side(pred: pd.DataFrame, name: str, side: str, dims: list[str]) -> np.ndarray:
    return pred[[f"{name}__{side}_{d}" for d in dims]].to_numpy()


def _kind_dims(pred: pd.DataFrame, name: str, kind: str) -> list[str]:
    return [c.removeprefix(f"{name}__{kind}_") for c in pred.columns if c.startswith(f"{name}__{kind}_")]


def predicted_prs(pred: pd.DataFrame, name: str, mu: dict[str, np.ndarray], gamma: float) -> np.ndarray:
    """A dual-gate predictor's PRS of every prompt: the sum of its predicted ``D_i`` with uniform
    weights (heads that predict distances), or the published PRS of its predicted qualities."""
    from dcpipelines.core.routing.pareto import pareto_relative_superiority

    dims = _kind_dims(pred, name, "distance")
    if dims:
        return _side(pred, name, "distance", dims).mean(1)
    dims = _kind_dims(pred, name, "edge")
    mu_edge, mu_cloud = (mu["edge"].mean(keepdims=True), mu["cloud"].mean(keepdims=True)) if dims == ["mean"] \
        else (mu["edge"], mu["cloud"])
    return pareto_relative_superiority(_side(pred, name, "edge", dims), _side(pred, name, "cloud", dims),
                                       mu_edge, mu_cloud, gamma)


def _predicted_gain(pred: pd.DataFrame, name: str) -> np.ndarray | None:
    dims = _kind_dims(pred, name, "edge")
    return (_side(pred, name, "cloud", dims) - _side(pred, name, "edge", dims)).mean(1) if dims else None


def routings(q_edge: np.ndarray, q_cloud: np.ndarray, pred: pd.DataFrame, mu: dict[str, np.ndarray],
             gamma: float) -> dict[str, Any]:
    """Every router's routing of the test prompts (``pred``: one seed's predictions)."""
    from dcpipelines.core.routing import routers as r

    names = [*PREDICTORS, *[n for n in OPTIONAL_ROUTERS if any(c.startswith(f"{n}__") for c in pred.columns)]]
    out = {name: r.prs_routing(predicted_prs(pred, name, mu, gamma), _predicted_gain(pred, name)) for name in names}
    dims = _kind_dims(pred, QUALITY_MODEL, "edge")
    out["ablation_relative_share_prs"] = r.relative_share_routing(_side(pred, QUALITY_MODEL, "edge", dims),
                                                                  _side(pred, QUALITY_MODEL, "cloud", dims))
    out.update({kind: r.uncapped(r.gain_order(pred[f"{kind}_score"].to_numpy())) for kind in r.BASELINES})
    out["prompt_length"] = r.uncapped(r.prompt_length_order(pred["n_tokens"].to_numpy()))
    out["oracle"] = r.oracle_routing(q_cloud.mean(1) - q_edge.mean(1))
    out["oracle_prs"] = r.routet2i_routing(q_edge, q_cloud, mu["edge"], mu["cloud"], gamma)
    return out


def router_curves(measured: pd.DataFrame, scene_prompts: pd.DataFrame, predictions: pd.DataFrame,
                  seed: int, random_repeats: int, mu: dict[str, np.ndarray], gamma: float) -> RouterCurves:
    """Every router's quality-versus-budget curve on the test prompts, for one seed's predictions."""
    ids, q_edge, q_cloud = wide(measured, scene_prompts, "test")
    pred = predictions.set_index("prompt_id").loc[ids].reset_index()
    mean_edge, mean_cloud = q_edge.mean(1), q_cloud.mean(1)
    curves = {name: b.capped_curve(b.cumulative_quality(rt.order, mean_edge, mean_cloud), rt.eligible)
              for name, rt in routings(q_edge, q_cloud, pred, mu, gamma).items()}
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


def budget_metrics(routers: RouterCurves, budgets: list[float],
                   gain_targets: tuple[float, ...] = (0.4, 0.5, 0.6)) -> dict[str, float]:
    """Gain recovered of every router at each cloud budget (``ablation_*`` keys for the paper's
    ablations); the cloud share RouteT2I needs for 95% of the cloud's gain; cloud requests saved
    against random at each share of the gain."""
    curves, n = routers.curves, routers.n
    all_edge, all_cloud = routers.all_edge, routers.all_cloud
    metrics: dict[str, float] = {"quality_all_edge": all_edge, "quality_all_cloud": all_cloud}
    for budget in budgets:
        k = b.cloud_count(n, budget)
        tag = f"b{round(100 * budget)}"
        for name, curve in curves.items():
            metrics[f"quality_{name}_{tag}"] = float(curve[k])
            key = f"{name}_{tag}" if name.startswith("ablation_") else f"gain_recovered_{name}_{tag}"
            metrics[key] = b.gain_recovered(float(curve[k]), all_edge, all_cloud)
    metrics["cloud_fraction_for_95pct_of_cloud_quality"] = b.smallest_budget_reaching(
        curves["routet2i"], b.gain_target(all_edge, all_cloud, 0.95))
    for share in gain_targets:
        target, pct = b.gain_target(all_edge, all_cloud, share), round(100 * share)
        random_share = b.smallest_budget_reaching(curves["random"], target)
        for name in ("routet2i", "zooter", "hybrid", "routellm"):
            needed = b.smallest_budget_reaching(curves[name], target)
            metrics[f"cloud_fraction_for_{pct}pct_gain_{name}"] = needed
            suffix = "" if name == "routet2i" else f"_{name}"
            metrics[f"cloud_requests_saved_vs_random_at_{pct}pct_gain{suffix}"] = (
                1.0 - needed / random_share if random_share > 0 else 0.0)
        metrics[f"cloud_fraction_for_{pct}pct_gain_random"] = random_share
    metrics["test_prompts"] = n
    return metrics


def mean_quality(measured: pd.DataFrame, scene_prompts: pd.DataFrame, split: str = "router_train",
                 ) -> dict[str, np.ndarray]:
    """Each side's mean quality per dimension on one split (the PRS's mu)."""
    _, edge, cloud = wide(measured, scene_prompts, split)
    return {"edge": edge.mean(0), "cloud": cloud.mean(0)}


def prediction_metrics(measured: pd.DataFrame, scene_prompts: pd.DataFrame, predictions: pd.DataFrame,
                       mu: dict[str, np.ndarray], gamma: float) -> dict[str, float]:
    """How well one seed's RouteT2I predictor ranks the true gain and the true PRS, its error,
    and how many test prompts its alpha cap keeps on the edge."""
    from dcpipelines.core.routing.pareto import pareto_relative_superiority

    ids, q_edge, q_cloud = wide(measured, scene_prompts, "test")
    pred = predictions.set_index("prompt_id").loc[ids]
    dims = quality_dimensions(measured)
    pred_edge, pred_cloud = _side(pred, QUALITY_MODEL, "edge", dims), _side(pred, QUALITY_MODEL, "cloud", dims)
    true_prs = pareto_relative_superiority(q_edge, q_cloud, mu["edge"], mu["cloud"], gamma)
    pred_prs = predicted_prs(pred, "routet2i", mu, gamma)
    gain = q_cloud.mean(1) - q_edge.mean(1)
    return {
        "predicted_prs_spearman": spearman(pred_prs, true_prs),
        "plugin_prs_spearman": spearman(predicted_prs(pred, QUALITY_MODEL, mu, gamma), true_prs),
        "predicted_gain_spearman": spearman(pred_cloud.mean(1) - pred_edge.mean(1), gain),
        "zooter_gain_spearman": spearman(pred["zooter_score"].to_numpy(), gain),
        "predicted_quality_mae": float(np.abs(np.concatenate([pred_edge - q_edge, pred_cloud - q_cloud])).mean()),
        "predicted_edge_better_share_test": float((pred_prs >= 0.5).mean()),
    }


def premise_metrics(measured: pd.DataFrame, scene_prompts: pd.DataFrame, mu: dict[str, np.ndarray],
                    gamma: float) -> dict[str, float]:
    """The world against the paper's premise, on every measured prompt: the cloud's win rate
    (mean quality) and mean quality gap by number of objects in the prompt (1, 2, 3 or more),
    the edge's overall win rate, and the share of test prompts whose true PRS favours the edge."""
    from dcpipelines.core.routing.pareto import pareto_relative_superiority

    frame = measured.pivot_table(index="prompt_id", columns="side", values="mean_quality").reset_index()
    frame = frame.merge(scene_prompts[["prompt_id", "n_objects"]], on="prompt_id")
    gap = frame["cloud"] - frame["edge"]
    bucket = np.where(frame["n_objects"] >= 3, "3plus", frame["n_objects"].astype(str))
    m: dict[str, float] = {"edge_win_rate_overall": float((gap < 0).mean())}
    for name in ("1", "2", "3plus"):
        part = gap[bucket == name]
        m[f"prompts_{name}_objects"] = len(part)
        m[f"cloud_win_rate_{name}_objects"] = float((part > 0).mean()) if len(part) else float("nan")
        m[f"cloud_gap_{name}_objects"] = float(part.mean()) if len(part) else float("nan")
    _, q_edge, q_cloud = wide(measured, scene_prompts, "test")
    m["edge_prs_above_half_share_test"] = float(
        (pareto_relative_superiority(q_edge, q_cloud, mu["edge"], mu["cloud"], gamma) >= 0.5).mean())
    return {k: v for k, v in m.items() if np.isfinite(v)}


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two vectors."""
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def time_routing(router_models: dict[str, Any], repeats: int, encode_prompts: int) -> dict[str, float]:
    """Wall-clock cost of a batched routing decision on this CPU: content-token mask (when the
    gate uses one), predictor forward pass, PRS and the budgeted allocation, per prompt (token
    embeddings already computed), and the MiniLM token encoding per prompt on top."""
    from dcpipelines.core.routing.budget import allocate
    from dcpipelines.core.routing.dual_gate import predict_dual_gate
    from dcpipelines.core.routing.routers import prs_routing
    from dcpipelines.core.routing.tokens import token_features

    tokens, model = router_models["test_tokens"], router_models["predictor"]
    best = float("inf")
    for _ in range(int(repeats)):
        start = time.perf_counter()
        candidates = None if router_models["test_candidates"] is None else tokens.content_mask()
        outputs, _ = predict_dual_gate(model, tokens.embeddings, tokens.mask, candidates)
        routing = prs_routing(outputs[..., 0].mean(1))  # the sum of the D_i heads, uniform weights
        allocate(routing.order, min(0.5, routing.eligible / len(routing.order)))
        best = min(best, time.perf_counter() - start)
    texts = [" ".join(t[1:-1]) for t in tokens.tokens[:int(encode_prompts)]]
    start = time.perf_counter()
    token_features(texts)
    encode = (time.perf_counter() - start) / max(len(texts), 1)
    return {"routing_ms_per_prompt": 1e3 * best / len(tokens.mask),
            "token_encoding_ms_per_prompt": 1e3 * encode}
