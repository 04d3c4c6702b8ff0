import pytest

from dcpipelines.core.routing.costs import estimate_costs


def _costs():
    return estimate_costs(edge_flops=2e6, edge_bytes=4e5, cloud_flops=2e8, cloud_bytes=7e6,
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
        estimate_costs(1, 1, 1, 1, 1, "toaster", "cloud_gpu_server", 1.0, 1.0)


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
