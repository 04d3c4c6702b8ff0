"""Release plans on top of the capacity model: gray release with automatic stop, and policies.

A gray release opens the task to growing cumulative shares of the eligible devices, one stage
per ``stage_duration_s``. Devices that got the task report whether it failed on them; after
each stage, if at least ``min_reports`` devices have reported and the failure rate among them
is above ``failure_threshold``, the release stops and later stages never get the task.
Stages are simulated as separate releases (each starts ``stage_duration_s`` after the last,
at that time of day), so one stage's queues do not carry over into the next.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from dcpipelines.core.devices.deployment import (
    DEVICE_CLASSES,
    CloudConfig,
    Connectivity,
    Policy,
    release_paths,
    sample_devices,
    simulate_release,
)


@dataclass(frozen=True)
class GrayPlan:
    """Cumulative stage shares, stage length, and the stop rule."""

    stages: tuple[float, ...] = (0.01, 0.1, 0.5, 1.0)
    stage_duration_s: int = 3600
    failure_threshold: float = 0.05
    min_reports: int = 20

    def __post_init__(self) -> None:
        steps = np.diff((0.0, *self.stages))
        if not self.stages or (steps <= 0).any() or self.stages[-1] > 1:
            raise ValueError(f"stages must be increasing shares ending at most at 1, got {self.stages}")


def gray_release(fleet_size: int, policy: Policy, connectivity: Connectivity, config: CloudConfig,
                 plan: GrayPlan, task_failure: dict[str, float], strategy: str, seed: int,
                 sample_cap: int = 200_000) -> pd.DataFrame:
    """One row per stage run: devices released and reached, reports, observed failure rate."""
    unknown = sorted(set(task_failure) - set(DEVICE_CLASSES))
    if unknown:
        raise ValueError(f"task_failure: unknown device classes {unknown}; use {DEVICE_CLASSES}")
    failure_p = np.array([task_failure.get(c, 0.0) for c in DEVICE_CLASSES])
    eligible = round(fleet_size * policy.eligible_share())
    bounds = np.ceil(np.asarray(plan.stages) * eligible).astype(np.int64)
    sizes = np.diff(np.concatenate([[0], bounds]))
    rng = np.random.default_rng(seed)
    stage_config = replace(config, horizon_s=plan.stage_duration_s)
    rows, reports, failures = [], 0.0, 0.0
    for index, size in enumerate(sizes):
        if size == 0:
            continue
        hour = connectivity.release_hour + index * plan.stage_duration_s / 3600.0
        shifted = replace(connectivity, release_hour=hour % 24)
        count = int(min(size, sample_cap))
        devices = sample_devices(count, size / count, policy, shifted, stage_config, rng)
        result = release_paths(devices, fleet_size, shifted, stage_config, strategy, rng)
        got = np.isfinite(result.delivered_s)
        failed = got & (rng.random(count) < failure_p[devices.device_class])
        reports += got.sum() * devices.weight
        failures += failed.sum() * devices.weight
        rate = failures / reports if reports else 0.0
        stop = index < len(sizes) - 1 and reports >= plan.min_reports and rate > plan.failure_threshold
        rows.append({"stage": index, "cumulative_share": plan.stages[index],
                     "released": int(size), "delivered": float(got.sum() * devices.weight),
                     "failed": float(failed.sum() * devices.weight),
                     "observed_failure_rate": rate, "stopped": bool(stop)})
        if stop:
            break
    return pd.DataFrame(rows)


def gray_summary(stages: pd.DataFrame, eligible: int) -> dict[str, float]:
    """Stages run, the stage it stopped after (-1: none), and the share of devices exposed."""
    stopped = stages.index[stages["stopped"]]
    return {
        "stages_run": float(len(stages)),
        "stopped_after_stage": float(stages.loc[stopped[0], "stage"]) if len(stopped) else -1.0,
        "exposed_share": float(stages["delivered"].sum() / max(eligible, 1)),
        "failed_devices": float(stages["failed"].sum()),
    }


def compare_policies(fleet_size: int, policies: dict[str, Policy], connectivity: Connectivity,
                     config: CloudConfig, strategy: str, seed: int,
                     sample_cap: int = 200_000) -> pd.DataFrame:
    """One release per named policy: how many devices it targets, and what that costs."""
    rows = []
    for name, policy in policies.items():
        result = simulate_release(fleet_size, policy, connectivity, config, strategy, seed,
                                  sample_cap)
        rows.append({"policy": name, "strategy": strategy, "fleet_size": fleet_size,
                     "eligible": round(fleet_size * policy.eligible_share()),
                     **result.summary(config.utilisation_window_s)})
    return pd.DataFrame(rows)


__all__ = ["GrayPlan", "compare_policies", "gray_release", "gray_summary"]
