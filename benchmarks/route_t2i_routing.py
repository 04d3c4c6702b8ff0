"""Routing-decision latency of RouteT2I on this CPU: dual-gate predictor forward pass + PRS ordering (alpha <= 1/2) +
budgeted allocation for a batch of prompts, per prompt; and MiniLM token encoding per prompt.

Usage: .venv/bin/python benchmarks/route_t2i_routing.py [--prompts 1000] [--repeats 7]
Uses the predictor architecture of conf/base/parameters_route_t2i.yml (random weights: the
latency does not depend on the trained values).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import torch
import yaml

from dcpipelines.core.imaging.scenes import DIMENSIONS, prompt_for, sample_unique_scenes
from dcpipelines.core.routing.budget import allocate
from dcpipelines.core.routing.dual_gate import (
    DualGateQualityPredictor,
    DualGateSpec,
    predict_dual_gate,
)
from dcpipelines.core.routing.routers import prs_routing
from dcpipelines.core.routing.tokens import token_features

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    params = yaml.safe_load((ROOT / "conf/base/parameters_route_t2i.yml").read_text())["route_t2i"]
    settings = {k: v for k, v in params["router"].items() if k in DualGateSpec.__dataclass_fields__}
    torch.manual_seed(0)
    model = DualGateQualityPredictor(DualGateSpec(n_dims=len(DIMENSIONS), **settings)).eval()
    scenes = sample_unique_scenes(0, args.prompts, params["world"]["level_weights"])
    texts = [prompt_for(s) for s in scenes]
    start = time.perf_counter()
    tokens = token_features(texts)
    encode_ms = 1e3 * (time.perf_counter() - start) / len(texts)
    timings = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        candidates = tokens.content_mask() if params["router"].get("content_tokens_only") else None
        distances, _ = predict_dual_gate(model, tokens.embeddings, tokens.mask, candidates)
        routing = prs_routing(distances[..., 0].mean(1))
        allocate(routing.order, min(0.5, routing.eligible / len(routing.order)))
        timings.append(1e3 * (time.perf_counter() - start) / len(texts))
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    print(f"prompts: {len(texts)}, repeats: {args.repeats}")
    print(f"routing decision (content mask + predictor + PRS order + allocation), ms per prompt: "
          f"median {statistics.median(timings):.4f}, best {min(timings):.4f}")
    print(f"MiniLM token encoding, ms per prompt: {encode_ms:.3f}")
    print(f"routing including encoding, ms per prompt: {encode_ms + statistics.median(timings):.3f}")


if __name__ == "__main__":
    main()
