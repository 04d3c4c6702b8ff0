"""Invariants of the fleet release simulation."""

import numpy as np
import pytest

from dcpipelines.core.devices.deployment import (
    DEVICE_CLASSES,
    STRATEGIES,
    Policy,
    ReleaseConfig,
    assign_stages,
    compare_release_strategies,
    make_fleet,
    simulate_release,
)

FLEET = make_fleet(20_000, seed=4)
POLICY = Policy(device_classes=("mid_range_phone", "high_end_phone"), min_os_version=12)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_eligible_device_gets_the_task_exactly_once(strategy):
    config = ReleaseConfig(horizon_s=24 * 3600.0)
    result = simulate_release(FLEET, POLICY, config, strategy, seed=1)
    assert result.stopped_after_stage is None
    eligible = POLICY.eligible(FLEET)
    np.testing.assert_array_equal(np.isfinite(result.delivered_at_s), eligible)
    # each eligible device sits in exactly one stage; the stages cover all of them
    assert set(np.unique(result.stage[eligible])) == set(range(len(config.stages)))
    assert (result.stage[~eligible] == -1).all()
    # bundle bytes: one bundle per eligible device, never more
    bundles = eligible.sum() * config.bundle_bytes
    assert bundles <= result.bytes_moved < bundles + 0.2 * bundles
    release_s = result.stage[eligible] * config.stage_duration_s
    start = np.maximum(FLEET.online_at_s[eligible], release_s)
    assert (result.delivered_at_s[eligible] > start).all()


def test_policy_filters_on_every_granularity():
    mask = POLICY.eligible(FLEET)
    classes = np.array(DEVICE_CLASSES)[FLEET.device_class[mask]]
    assert set(classes) == {"mid_range_phone", "high_end_phone"}
    assert FLEET.os_version[mask].min() == 12
    grouped = Policy(min_app_version=10, user_groups=(3,)).eligible(FLEET)
    assert set(FLEET.user_group[grouped]) == {3} and set(FLEET.app_version[grouped]) == {10}
    with pytest.raises(ValueError, match="unknown device classes"):
        Policy(device_classes=("toaster",)).eligible(FLEET)


def test_gray_release_stops_on_failure_and_later_stages_get_nothing():
    bad = {c: (0.5 if c == "mid_range_phone" else 0.0) for c in DEVICE_CLASSES}
    config = ReleaseConfig(failure_rate=bad, failure_threshold=0.05)
    result = simulate_release(FLEET, POLICY, config, "push_then_pull", seed=2)
    assert result.stopped_after_stage == 0
    later = result.stage >= 1
    assert later.any() and np.isnan(result.delivered_at_s[later]).all()
    assert np.isfinite(result.delivered_at_s[result.stage == 0]).all()
    healthy = simulate_release(FLEET, POLICY, ReleaseConfig(failure_rate={}), "push_then_pull", 2)
    assert healthy.stopped_after_stage is None


def test_stage_assignment_follows_the_cumulative_fractions():
    eligible = np.ones(1000, dtype=bool)
    eligible[::4] = False
    stage = assign_stages(eligible, (0.1, 0.5, 1.0), seed=0)
    assert np.bincount(stage[eligible]).tolist() == [75, 300, 375]
    with pytest.raises(ValueError, match="increasing"):
        assign_stages(eligible, (0.5, 0.2), seed=0)


def test_pull_load_follows_the_polling_rate():
    config = ReleaseConfig(stages=(1.0,), horizon_s=6 * 3600.0)
    result = simulate_release(FLEET, Policy(), config, "pull", seed=3)
    online_early = (FLEET.online_at_s < 3600).sum()
    steady = result.requests_per_s[3 * 3600 : 6 * 3600].mean()
    assert online_early / config.poll_interval_s < steady < FLEET.size / config.poll_interval_s


def test_a_light_notification_beats_a_bundle_on_a_saturated_push_channel():
    # the push channel sends 100 bundles/s but 780k notifications/s: online devices wait
    config = ReleaseConfig(stages=(1.0,), push_channel_bytes_per_s=200e6, pull_jitter_s=1.0)
    online = FLEET.online_at_s == 0
    push = simulate_release(FLEET, Policy(), config, "push", seed=3)
    then_pull = simulate_release(FLEET, Policy(), config, "push_then_pull", seed=3)
    assert np.median(then_pull.lag_s[online]) * 10 < np.median(push.lag_s[online])
    assert then_pull.requests_per_s.max() > push.requests_per_s.max()


def test_same_seed_same_result():
    a, _ = compare_release_strategies(FLEET, POLICY, ReleaseConfig(), seed=5)
    b, _ = compare_release_strategies(FLEET, POLICY, ReleaseConfig(), seed=5)
    assert a.equals(b)
