"""What RouteT2I's heads should predict, judged on a validation split of the router-training
prompts only (the test prompts are not read): the PRS terms D_i themselves ("distances", whose
sum estimates the expected PRS of a prompt) or both sides' qualities ("qualities", the PRS then
computed from the predicted qualities: the plug-in reading).

Usage (after a default ``kedro run --pipelines route_t2i``, which writes the measured qualities
and the token features this reads):
    .venv/bin/python benchmarks/route_t2i_prs_target.py [--validation 500] [--seeds 42 43 44]

Prints, per seed, the gain recovered at a 50% cloud rate on the validation prompts and the
Spearman correlation of the predicted with the true PRS, for both readings.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from dcpipelines.core.routing import budget as b
from dcpipelines.core.routing.dual_gate import DualGateSpec, predict_dual_gate, train_dual_gate
from dcpipelines.core.routing.evaluation import quality_dimensions, spearman
from dcpipelines.core.routing.pareto import pareto_relative_superiority
from dcpipelines.core.routing.routers import prs_routing, routet2i_routing
from dcpipelines.core.routing.tokens import unpack_tokens
from dcpipelines.core.seeds import derive_seed

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Train both readings on the router-training prompts minus a validation split; compare on it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--validation", type=int, default=500, help="router-training prompts held out")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    args = parser.parse_args()
    torch.set_num_threads(1)
    params = yaml.safe_load((ROOT / "conf/base/parameters_route_t2i.yml").read_text())["route_t2i"]
    measured = pd.read_parquet(ROOT / "data/07_model_output/route_t2i/measured_quality.parquet")
    prompts = pd.read_parquet(ROOT / "data/05_model_input/route_t2i/scene_prompts.parquet")
    tokens = unpack_tokens(torch.load(ROOT / "data/05_model_input/route_t2i/token_features.pt",
                                      weights_only=True)["router_train"])
    dims = quality_dimensions(measured)
    ids = prompts.loc[prompts["split"] == "router_train", "prompt_id"]
    edge, cloud = (measured[measured["side"] == s].set_index("prompt_id").loc[ids, dims].to_numpy()
                   for s in ("edge", "cloud"))
    candidates = tokens.content_mask() if params["router"].get("content_tokens_only") else tokens.mask
    order = np.random.default_rng(0).permutation(len(ids))
    fit, val = order[args.validation:], order[:args.validation]
    mu_edge, mu_cloud = edge[fit].mean(0), cloud[fit].mean(0)
    gamma = float(params["router"]["prs_gamma"])
    true_prs = pareto_relative_superiority(edge[val], cloud[val], mu_edge, mu_cloud, gamma)
    mean_edge, mean_cloud = edge[val].mean(1), cloud[val].mean(1)

    def gain_at_half(routing) -> float:
        curve = b.capped_curve(b.cumulative_quality(routing.order, mean_edge, mean_cloud), routing.eligible)
        return b.gain_recovered(float(curve[len(val) // 2]), mean_edge.mean(), mean_cloud.mean())

    settings = {k: v for k, v in params["router"].items() if k in DualGateSpec.__dataclass_fields__}
    print(f"router-training prompts: {len(fit)} fit, {len(val)} validation; "
          f"PRS rule on the true qualities: {gain_at_half(prs_routing(true_prs)):.3f}")
    results: dict[str, list[float]] = {}
    for seed in args.seeds:
        for target in ("distances", "qualities"):
            spec = DualGateSpec(n_dims=len(dims), **{**settings, "target": target})
            model, _ = train_dual_gate(spec, tokens.embeddings[fit], tokens.mask[fit], edge[fit], cloud[fit],
                                       derive_seed(seed, "route_t2i.router_training"), candidates[fit])
            out, _ = predict_dual_gate(model, tokens.embeddings[val], tokens.mask[val], candidates[val])
            if target == "distances":
                prs = out[..., 0].mean(1)
                routing = prs_routing(prs)
            else:
                prs = pareto_relative_superiority(out[..., 0], out[..., 1], mu_edge, mu_cloud, gamma)
                routing = routet2i_routing(out[..., 0], out[..., 1], mu_edge, mu_cloud, gamma)
            gain = gain_at_half(routing)
            results.setdefault(target, []).append(gain)
            print(f"seed {seed} {target:9s}: gain recovered at 50% {gain:.3f}, "
                  f"Spearman with the true PRS {spearman(prs, true_prs):.3f}")
    for target, gains in results.items():
        print(f"{target:9s}: mean {statistics.mean(gains):.3f} over {len(gains)} seeds")


if __name__ == "__main__":
    main()
