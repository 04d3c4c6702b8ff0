import pytest

from dcpipelines.core.routing.costs import estimate_request_costs


def _costs():
    return estimate_request_costs(edge_flops=2e6, edge_bytes=4e5, cloud_flops=2e8, cloud_bytes=7e6,
                          payload_bytes=1728, edge_profile="mid_range_phone",
                          cloud_profile="cloud_gpu_server", network_rtt_ms=60.0,
                          cloud_price_per_1k=0.5)


def test_cloud_costs_latency_and_money_edge_costs_energy():
    costs = _costs()
    assert costs.cloud_latency_ms > 60.0 > costs.edge_latency_ms > 0
    none, half = costs.at_share(0.0), costs.at_share(0.5)
    assert none["cloud_price_per_1k"] == 0 and half["cloud_price_per_1k"] == pytest.approx(0.25)
    assert half["mean_latency_ms"] > none["mean_latency_ms"]
    assert half["edge_energy_mj"] == pytest.approx(none["edge_energy_mj"] / 2)


def test_budget_in_money_or_latency_becomes_a_cloud_share():
    costs = _costs()
    assert costs.share_for(price_per_1k=0.1) == pytest.approx(0.2)
    target = costs.at_share(0.3)["mean_latency_ms"]
    assert costs.share_for(mean_latency_ms=target) == pytest.approx(0.3)
    assert costs.share_for(price_per_1k=10.0) == 1.0


def test_unknown_profile_is_named():
    with pytest.raises(ValueError, match="unknown device profile 'toaster'"):
        estimate_request_costs(1, 1, 1, 1, 1, "toaster", "cloud_gpu_server", 1.0, 1.0)


def test_measured_latencies_become_per_request_costs():
    from dcpipelines.core.devices.profiles import PROFILES
    from dcpipelines.core.routing.costs import measured_costs

    costs = measured_costs(800.0, 300.0, "mid_range_phone", "cloud_gpu_server", network_rtt_ms=60.0,
                           cloud_price_per_1k=0.5)
    assert costs.edge_latency_ms == 800.0 and costs.cloud_latency_ms == 360.0
    assert costs.edge_energy_mj == pytest.approx(PROFILES["mid_range_phone"].active_power_w * 800.0)
    # the cloud is faster here: a latency target does not cap the share, money does
    assert costs.share_for(mean_latency_ms=100.0) == 1.0
    assert costs.share_for(price_per_1k=0.125, mean_latency_ms=100.0) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="non-negative"):
        measured_costs(-1.0, 1.0, "mid_range_phone", "cloud_gpu_server", 60.0, 0.5)


def test_quality_under_budgets_reads_each_curve_at_the_share_a_budget_buys():
    import pandas as pd

    from dcpipelines.core.routing.costs import measured_costs, quality_under_budgets

    n = 4
    curves = pd.DataFrame([{"router": r, "cloud_share": k / n, "quality": base + k, "gain_recovered": k / n}
                           for r, base in (("routet2i", 0.0), ("random", 10.0)) for k in range(n + 1)])
    costs = measured_costs(100.0, 240.0, "mid_range_phone", "cloud_gpu_server", 60.0, 0.5)  # cloud 300 ms
    table = quality_under_budgets(costs, [("price_per_1k", 0.25), ("mean_latency_ms", 160.0)], curves,
                                  routers=("routet2i", "random"))
    money, latency = table.iloc[0], table.iloc[1]
    assert money["allowed_cloud_share"] == pytest.approx(0.5)
    assert money["quality_routet2i"] == 2.0 and money["quality_random"] == 12.0
    # 160 ms on average allows 30% of prompts on the 300 ms cloud: 1 of 4 prompts, never 2
    assert latency["allowed_cloud_share"] == pytest.approx(0.3)
    assert latency["quality_routet2i"] == 1.0 and latency["mean_latency_ms"] <= 160.0
    with pytest.raises(ValueError, match="unknown budget"):
        quality_under_budgets(costs, [("energy", 1.0)], curves, routers=("routet2i",))
