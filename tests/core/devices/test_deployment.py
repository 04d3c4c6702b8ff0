"""The release simulation: known answers, the SimPy reference, policies, gray release."""

from dataclasses import replace

import numpy as np
import pytest

from dcpipelines.core.devices.deployment import (
    DEVICE_CLASSES,
    STRATEGIES,
    CloudConfig,
    Connectivity,
    Policy,
    compare_strategies,
    simulate_release,
    sweep,
)
from dcpipelines.core.devices.release_des import simulate_release_simpy
from dcpipelines.core.devices.release_plans import (
    GrayPlan,
    compare_policies,
    gray_release,
    gray_summary,
)

CONNECTIVITY = Connectivity()
BASE = CloudConfig(horizon_s=4 * 3600)
FLEET = 2000
# a 2,000-device fleet on a cloud scaled down 500-fold loads it like 10^6 devices load BASE
SMALL_CLOUD = BASE.scaled(FLEET / 1e6, servers=2)


def _close(a: float, b: float, rel: float, abs_: float) -> bool:
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), abs_)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_vectorised_model_agrees_with_simpy(strategy):
    fast = simulate_release(FLEET, Policy(), CONNECTIVITY, SMALL_CLOUD, strategy, seed=1).summary()
    des = simulate_release_simpy(FLEET, Policy(), CONNECTIVITY, SMALL_CLOUD, strategy, 1).summary()
    for key in ("p50_delivery_s", "p99_delivery_s"):
        assert _close(fast[key], des[key], rel=0.25, abs_=5.0), (key, fast[key], des[key])
    assert fast["failure_rate"] == pytest.approx(des["failure_rate"], abs=0.03)
    for name in ("push_gateway", "poll_service", "cdn_edge"):
        key = f"peak_{name}_utilisation"
        assert _close(fast[key], des[key], rel=0.25, abs_=0.05), (key, fast[key], des[key])


def test_an_idle_cloud_delivers_at_device_speed():
    # capacities 1000x the load: delivery is the download plus the strategy's own delay
    roomy = replace(BASE.scaled(1000.0, servers=64), pull_jitter_s=0.0)
    result = simulate_release(20_000, Policy(), CONNECTIVITY, roomy, "push_then_pull", seed=2)
    done = np.isfinite(result.delivered_s)
    download = roomy.bundle_bytes / result.devices.downlink_bytes_per_s[done]
    extra = result.lag_s()[done] - download
    assert extra.min() >= 0 and np.percentile(extra, 99) < 0.5
    assert result.summary()["failure_rate"] == 0.0
    assert max(t.peak_utilisation() for t in result.traces.values()) < 0.01


def test_a_gateway_below_the_arrival_rate_queues_rejects_and_fails():
    push = simulate_release(200_000, Policy(), CONNECTIVITY, BASE, "push", seed=3).summary()
    more = replace(BASE, gateway_bytes_per_s=BASE.gateway_bytes_per_s * 100)
    roomy = simulate_release(200_000, Policy(), CONNECTIVITY, more, "push", seed=3).summary()
    assert push["peak_push_gateway_utilisation"] > 1 > roomy["peak_push_gateway_utilisation"]
    assert push["failure_rate"] > 0.01 and roomy["failure_rate"] == 0.0
    # the devices that get through wait behind the queue and the back-offs
    assert push["p99_delivery_s"] > roomy["p99_delivery_s"] + 30


def test_pull_waits_for_the_poll_and_its_load_grows_with_the_poll_rate():
    rows = sweep(100_000, "pull", "poll_interval_s", [60, 1800], Policy(), CONNECTIVITY, BASE,
                 seed=4, sample_cap=20_000).set_index("value")
    assert rows.loc[1800, "p99_delivery_s"] > 10 * rows.loc[60, "p99_delivery_s"]
    load = rows["peak_poll_service_utilisation"]
    assert 10 < load.loc[60] / load.loc[1800] < 30  # polls at 30x the rate, plus launch polls


def test_a_shorter_jitter_delivers_sooner_but_loads_the_cdn_more():
    rows = sweep(1_000_000, "push_then_pull", "pull_jitter_s", [5, 120], Policy(), CONNECTIVITY,
                 BASE, seed=5, sample_cap=20_000).set_index("value")
    assert rows.loc[5, "peak_cdn_edge_utilisation"] > 1 > rows.loc[120, "peak_cdn_edge_utilisation"]
    assert rows.loc[120, "p50_delivery_s"] > rows.loc[5, "p50_delivery_s"]


def test_a_sample_of_devices_stands_for_the_fleet():
    whole = simulate_release(100_000, Policy(), CONNECTIVITY, BASE, "push", 6).summary()
    part = simulate_release(100_000, Policy(), CONNECTIVITY, BASE, "push", 6, sample_cap=20_000)
    part = part.summary()
    assert part["peak_push_gateway_utilisation"] == pytest.approx(
        whole["peak_push_gateway_utilisation"], rel=0.05)
    assert part["failure_rate"] == pytest.approx(whole["failure_rate"], abs=0.01)
    assert part["p99_delivery_s"] == pytest.approx(whole["p99_delivery_s"], rel=0.2)


def test_same_seed_same_result():
    a, b, c = (compare_strategies([5_000], Policy(), CONNECTIVITY, BASE, seed=s).drop(columns="wall_s")
               for s in (7, 7, 8))
    assert a.equals(b) and not a.equals(c)


def test_policies_select_by_model_region_and_app_version():
    narrow = Policy(device_classes=("high_end_phone",), regions=("east",), min_app_version=10)
    assert narrow.eligible_share() == pytest.approx(0.2 * 0.3 * 0.6)
    table = compare_policies(100_000, {"all": Policy(), "narrow": narrow}, CONNECTIVITY, BASE,
                             "push_then_pull", seed=9).set_index("policy")
    assert table.loc["narrow", "eligible"] == 3600
    assert table.loc["narrow", "poll_service_requests"] < 0.1 * table.loc["all", "poll_service_requests"]
    with pytest.raises(ValueError, match="unknown"):
        Policy(regions=("mars",))


def test_gray_release_stops_a_faulty_task_after_the_first_stage():
    faulty = {"low_end_phone": 0.4}
    plan = GrayPlan(stages=(0.01, 0.1, 1.0), failure_threshold=0.05, min_reports=20)
    stages = gray_release(100_000, Policy(), CONNECTIVITY, BASE, plan, faulty, "push_then_pull", 10)
    summary = gray_summary(stages, 100_000)
    assert summary["stopped_after_stage"] == 0 and summary["stages_run"] == 1
    assert summary["exposed_share"] <= 0.01
    healthy = gray_release(100_000, Policy(), CONNECTIVITY, BASE, plan,
                           {c: 0.001 for c in DEVICE_CLASSES}, "push_then_pull", 10)
    assert gray_summary(healthy, 100_000)["stopped_after_stage"] == -1 and len(healthy) == 3
    with pytest.raises(ValueError, match="increasing"):
        GrayPlan(stages=(0.5, 0.2))


def test_bad_settings_are_refused_with_the_known_names():
    with pytest.raises(ValueError, match="unknown strategy"):
        simulate_release(1000, Policy(), CONNECTIVITY, BASE, "carrier_pigeon", seed=0)
    with pytest.raises(ValueError, match="CloudConfig field"):
        sweep(1000, "push", "jitter", [1.0], Policy(), CONNECTIVITY, BASE, seed=0)
    with pytest.raises(ValueError, match="unknown device classes"):
        gray_release(1000, Policy(), CONNECTIVITY, BASE, GrayPlan(), {"toaster": 0.5}, "push", 0)
