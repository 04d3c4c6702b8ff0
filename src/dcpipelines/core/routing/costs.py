"""What a routed request costs: edge and cloud latency from the shared device profiles (a
roofline estimate from the generators' FLOPs and bytes), network time, and a cloud price.

The budget of the router is a share of cloud requests; this module turns a latency or money
budget into that share and reports what each share costs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dcpipelines.core.devices.profiles import PROFILES


@dataclass(frozen=True)
class RoutingCosts:
    """Per-prompt latency and energy of each side and the cloud price: the inputs of the cost tables."""
    edge_latency_ms: float
    cloud_latency_ms: float  # generation on the server plus the network round trip and transfer
    edge_energy_mj: float
    cloud_price_per_1k: float

    def at_share(self, cloud_share: float) -> dict[str, float]:
        """Mean latency per prompt, cloud spend per 1,000 prompts and device energy per prompt."""
        if not 0.0 <= cloud_share <= 1.0:
            raise ValueError(f"cloud share must be in [0, 1], got {cloud_share}")
        return {
            "mean_latency_ms": (1 - cloud_share) * self.edge_latency_ms
            + cloud_share * self.cloud_latency_ms,
            "cloud_price_per_1k": cloud_share * self.cloud_price_per_1k,
            "edge_energy_mj": (1 - cloud_share) * self.edge_energy_mj,
        }

    def share_for(self, price_per_1k: float | None = None,
                  mean_latency_ms: float | None = None) -> float:
        """Largest cloud share within a spend per 1,000 prompts and/or a mean-latency target."""
        share = 1.0
        if price_per_1k is not None:
            share = min(share, max(price_per_1k, 0.0) / self.cloud_price_per_1k)
        if mean_latency_ms is not None:
            extra = self.cloud_latency_ms - self.edge_latency_ms
            if extra > 0:
                share = min(share, max(mean_latency_ms - self.edge_latency_ms, 0.0) / extra)
        return max(0.0, min(share, 1.0))


def estimate_request_costs(edge_flops: float, edge_bytes: float, cloud_flops: float, cloud_bytes: float,
                   payload_bytes: float, edge_profile: str, cloud_profile: str,
                   network_rtt_ms: float, cloud_price_per_1k: float) -> RoutingCosts:
    """Per-request costs of the two sides on the named device profiles."""
    for name in (edge_profile, cloud_profile):
        if name not in PROFILES:
            raise ValueError(f"unknown device profile {name!r}; known: {sorted(PROFILES)}")
    device, server = PROFILES[edge_profile], PROFILES[cloud_profile]
    edge = device.estimate(edge_flops, edge_bytes, edge_bytes / 1e6)
    cloud = server.estimate(cloud_flops, cloud_bytes, cloud_bytes / 1e6)
    network_ms = network_rtt_ms + 1e3 * (device.transfer_s(payload_bytes, "down")
                                         + device.transfer_s(256, "up"))
    return RoutingCosts(
        edge_latency_ms=edge["est_latency_ms"],
        cloud_latency_ms=cloud["est_latency_ms"] + network_ms,
        edge_energy_mj=edge["est_energy_mj"],
        cloud_price_per_1k=cloud_price_per_1k,
    )


def measured_costs(edge_latency_ms: float, cloud_latency_ms: float, edge_profile: str,
                   cloud_profile: str, network_rtt_ms: float, cloud_price_per_1k: float) -> RoutingCosts:
    """Per-request costs from latencies measured (or given) per image: the cloud side adds the
    network round trip; device energy is the edge profile's active power over the edge latency."""
    for name in (edge_profile, cloud_profile):
        if name not in PROFILES:
            raise ValueError(f"unknown device profile {name!r}; known: {sorted(PROFILES)}")
    if edge_latency_ms < 0 or cloud_latency_ms < 0:
        raise ValueError(f"latencies must be non-negative, got edge {edge_latency_ms}, cloud {cloud_latency_ms}")
    return RoutingCosts(
        edge_latency_ms=float(edge_latency_ms),
        cloud_latency_ms=float(cloud_latency_ms) + network_rtt_ms,
        edge_energy_mj=PROFILES[edge_profile].active_power_w * float(edge_latency_ms),
        cloud_price_per_1k=cloud_price_per_1k,
    )


def quality_under_budgets(costs: RoutingCosts, budgets: list[tuple[str, float]],
                          curves: pd.DataFrame,
                          routers: tuple[str, ...] = ("routet2i", "zooter", "random", "oracle"),
                          ) -> pd.DataFrame:
    """Each router's quality and gain recovered under each money or latency budget.

    ``budgets``: ``("price_per_1k", spend per 1,000 prompts)`` or ``("mean_latency_ms", target)``;
    ``curves``: rows ``router, cloud_share, quality, gain_recovered`` with k/N shares, k = 0..N.
    A budget becomes the largest cloud share it allows (:meth:`RoutingCosts.share_for`), then the
    largest whole number of prompts within that share (never over the budget)."""
    from dcpipelines.core.routing.budget import cloud_count

    by_router = {name: part.sort_values("cloud_share") for name, part in curves.groupby("router")}
    rows = []
    for kind, value in budgets:
        if kind not in ("price_per_1k", "mean_latency_ms"):
            raise ValueError(f"unknown budget {kind!r}; use price_per_1k or mean_latency_ms")
        share = costs.share_for(**{kind: float(value)})
        row = {"budget": kind, "value": float(value), "allowed_cloud_share": share}
        for name in routers:
            curve = by_router[name]
            k = cloud_count(len(curve) - 1, share)
            row[f"quality_{name}"] = float(curve["quality"].iloc[k])
            row[f"gain_recovered_{name}"] = float(curve["gain_recovered"].iloc[k])
        n = len(by_router[routers[0]]) - 1
        row.update(costs.at_share(cloud_count(n, share) / n))
        rows.append(row)
    return pd.DataFrame(rows)


def budget_table(costs: RoutingCosts, budgets: list[float], flops: dict[str, float]) -> pd.DataFrame:
    """What each cloud share (none, every budget, all) costs, with both sides' per-request
    latency and FLOPs alongside."""
    frame = pd.DataFrame([{"cloud_share": share, **costs.at_share(share)} for share in [0.0, *budgets, 1.0]])
    frame["edge_latency_per_request_ms"] = costs.edge_latency_ms
    frame["cloud_latency_per_request_ms"] = costs.cloud_latency_ms
    frame["edge_flops"], frame["cloud_flops"] = flops["edge"], flops["cloud"]
    return frame
