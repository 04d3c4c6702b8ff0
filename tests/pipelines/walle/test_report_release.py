"""The release claims: each one flips when the figures cross its threshold."""

import pandas as pd
import pytest

from dcpipelines.pipelines.walle.report_release import (
    COMPONENTS,
    judge,
    release_claims,
    release_metrics,
    size_tag,
)

LIMITS = {"p99_delivery_s": 60.0, "peak_utilisation": 1.0, "failure_rate": 0.01}


def _row(strategy: str, seed: int, p99: float, load: float, failures: float, gateway: float = 0.0):
    row = {"seed": seed, "fleet_size": 1_000_000, "strategy": strategy, "eligible": 1_000_000,
           "p50_delivery_s": p99 / 2, "p99_delivery_s": p99, "failure_rate": failures,
           "wall_s": 1.0}
    for component in COMPONENTS:
        row[f"peak_{component}_utilisation"] = load
    row["peak_push_gateway_utilisation"] = max(load, gateway)
    return row


def _bundle(ptp_p99: float, ptp_load: float, pull_ok: bool) -> dict:
    rows = []
    for seed, jiggle in ((1, -0.5), (2, 0.0), (3, 0.5)):
        rows += [_row("push_then_pull", seed, ptp_p99 + jiggle, ptp_load, 0.0),
                 _row("pull", seed, 1800.0, 0.05, 0.0),
                 _row("push", seed, 140.0 + jiggle, 0.0, 0.12, gateway=74.0 + jiggle)]
    sweeps = pd.DataFrame([
        {**_row("pull", 0, 59.0 if pull_ok else 80.0, 0.7, 0.0), "parameter": "poll_interval_s",
         "value": 60.0},
        {**_row("pull", 0, 1800.0, 0.05, 0.0), "parameter": "poll_interval_s", "value": 1800.0},
    ]).drop(columns="seed")
    validation = pd.DataFrame([
        {"strategy": s, "model": m, "p50_delivery_s": 10.0, "p99_delivery_s": 60.0,
         "failure_rate": 0.0} for s in ("push", "pull", "push_then_pull")
        for m in ("vectorised", "simpy")])
    gray = pd.DataFrame([
        {"task": "healthy", "stage": k, "delivered": 100.0, "failed": 0.0, "stopped": False}
        for k in range(4)] + [{"task": "faulty", "stage": 0, "delivered": 100.0, "failed": 9.0,
                               "stopped": True}])
    return {"strategies": pd.DataFrame(rows), "sweeps": sweeps, "validation": validation,
            "policies": pd.DataFrame(), "gray": gray, "claim_fleet_size": 1_000_000,
            "thresholds": LIMITS, "task_failure": {"faulty": {"low_end_phone": 0.3}}}


def _verdicts(bundle: dict) -> list:
    return [claim.holds for claim in release_claims(bundle)]


def test_the_push_then_pull_claim_fails_on_delay_and_on_load():
    assert _verdicts(_bundle(40.0, 0.5, pull_ok=False))[0] is True
    assert _verdicts(_bundle(64.0, 0.5, pull_ok=False))[0] is False  # too slow
    assert _verdicts(_bundle(40.0, 1.3, pull_ok=False))[0] is False  # overloads a component


def test_the_pull_claim_fails_when_some_poll_interval_is_timely_and_within_capacity():
    assert _verdicts(_bundle(40.0, 0.5, pull_ok=False))[1] is True
    assert _verdicts(_bundle(40.0, 0.5, pull_ok=True))[1] is False


def test_gateway_validation_and_gray_release_claims():
    verdicts = _verdicts(_bundle(40.0, 0.5, pull_ok=False))
    assert verdicts[2:] == [True, True, True]


def test_metrics_carry_the_issue_names():
    metrics = release_metrics(_bundle(40.0, 0.5, pull_ok=False))
    assert metrics["push_then_pull_p99_delivery_s_n1e6"] == pytest.approx(40.0)
    assert metrics["push_failure_rate_n1e6"] == pytest.approx(0.12)
    assert metrics["push_peak_push_gateway_utilisation"] == pytest.approx(74.0)
    assert metrics["gray_release_faulty_stopped_after_stage"] == 0
    assert metrics["one_shot_faulty_failed_devices"] == pytest.approx(400 * 0.3 * 0.3)


def test_judge_and_size_tags():
    rows = judge(pd.DataFrame([_row("pull", 0, 61.0, 0.9, 0.0), _row("pull", 0, 30.0, 0.9, 0.02)]),
                 LIMITS)
    assert rows["timely"].tolist() == [False, True] and rows["reliable"].tolist() == [True, False]
    assert not rows["ok"].any()
    assert [size_tag(n) for n in (10_000, 1_000_000, 2_000, 10_000_000)] == [
        "n1e4", "n1e6", "n2e3", "n1e7"]
