"""Vectorised simulation of releasing one ML task to a device fleet.

Three strategies, as contrasted in Walle's deployment platform:

- ``push``: the cloud pushes the whole bundle over its long-connection push channel. The
  channel's bytes per second bound how fast bundles go out.
- ``pull``: every device polls the cloud every ``poll_interval_s``; a poll after the release
  finds the task and the device downloads the bundle from the CDN.
- ``push_then_pull``: the push channel carries only a small notification; the device then
  pulls the bundle from the CDN after a random jitter that spreads the load.

A multi-granularity policy picks the eligible devices (class, OS and app version, user group),
and a staged gray release opens the task to growing fractions of them. After each stage, the
failure rate among the devices that have run the task decides whether the release goes on.
Devices are arrays, not objects: a million of them take seconds.

The model is deliberately simple and its numbers are assumptions, not measurements: devices
are either online at the release or come online once at an exponential time and stay online;
bandwidths and rates are fixed per device class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

DEVICE_CLASSES = ("low_end_phone", "mid_range_phone", "high_end_phone", "tablet")
STRATEGIES = ("push", "pull", "push_then_pull")


@dataclass(frozen=True)
class Fleet:
    """Per-device attributes as parallel arrays."""

    device_class: np.ndarray  # index into DEVICE_CLASSES
    os_version: np.ndarray
    app_version: np.ndarray
    user_group: np.ndarray
    online_at_s: np.ndarray  # first time the device is online after the release starts
    downlink_bytes_per_s: np.ndarray
    poll_phase_s: np.ndarray  # for pull: the device polls at phase + k * interval

    @property
    def size(self) -> int:
        return len(self.device_class)


def make_fleet(
    size: int,
    seed: int,
    online_fraction: float = 0.3,
    mean_offline_s: float = 4 * 3600.0,
    poll_interval_s: float = 1800.0,
) -> Fleet:
    """A seeded fleet with a realistic mix of device classes, versions and connectivity."""
    if size < 1:
        raise ValueError(f"fleet size must be >= 1, got {size}")
    rng = np.random.default_rng(seed)
    device_class = rng.choice(len(DEVICE_CLASSES), size=size, p=[0.3, 0.4, 0.2, 0.1])
    downlink_mbit = np.array([5.0, 20.0, 50.0, 30.0])[device_class]
    online = rng.random(size) < online_fraction
    return Fleet(
        device_class=device_class,
        os_version=rng.choice([10, 11, 12, 13, 14], size=size, p=[0.1, 0.15, 0.25, 0.3, 0.2]),
        app_version=rng.choice([8, 9, 10], size=size, p=[0.1, 0.3, 0.6]),
        user_group=rng.integers(0, 10, size=size),
        online_at_s=np.where(online, 0.0, rng.exponential(mean_offline_s, size=size)),
        downlink_bytes_per_s=downlink_mbit * rng.lognormal(0.0, 0.5, size=size) * 1e6 / 8,
        poll_phase_s=rng.uniform(0.0, poll_interval_s, size=size),
    )


@dataclass(frozen=True)
class Policy:
    """Who may get the task: device classes, minimum OS and app versions, user groups."""

    device_classes: tuple[str, ...] = DEVICE_CLASSES
    min_os_version: int = 0
    min_app_version: int = 0
    user_groups: tuple[int, ...] | None = None  # None: every group

    def eligible(self, fleet: Fleet) -> np.ndarray:
        unknown = set(self.device_classes) - set(DEVICE_CLASSES)
        if unknown:
            raise ValueError(f"unknown device classes {sorted(unknown)}; use {DEVICE_CLASSES}")
        classes = [DEVICE_CLASSES.index(c) for c in self.device_classes]
        mask = np.isin(fleet.device_class, classes)
        mask &= fleet.os_version >= self.min_os_version
        mask &= fleet.app_version >= self.min_app_version
        if self.user_groups is not None:
            mask &= np.isin(fleet.user_group, list(self.user_groups))
        return mask


@dataclass(frozen=True)
class ReleaseConfig:
    """The bundle, the cloud's capacities and the gray-release plan."""

    bundle_bytes: int = 2_000_000
    notification_bytes: int = 256
    poll_bytes: int = 512
    push_channel_bytes_per_s: float = 1.25e9  # 10 Gbit/s of long-connection gateways
    push_messages_per_s: float = 50_000.0  # gateway message rate
    poll_interval_s: float = 1800.0
    pull_jitter_s: float = 60.0
    stages: tuple[float, ...] = (0.01, 0.1, 0.5, 1.0)  # cumulative fractions of eligible devices
    stage_duration_s: float = 3600.0
    failure_threshold: float = 0.05
    min_reports: int = 20
    failure_rate: dict[str, float] = field(default_factory=lambda: {c: 0.001 for c in DEVICE_CLASSES})
    horizon_s: float = 48 * 3600.0  # requests are counted up to here


@dataclass
class ReleaseResult:
    """Per-device outcome (NaN: never delivered) and the cloud's load."""

    strategy: str
    eligible: np.ndarray
    stage: np.ndarray  # stage index per device, -1 if not eligible
    released: np.ndarray  # the device's stage was opened
    delivered_at_s: np.ndarray
    lag_s: np.ndarray  # delivery time minus its stage's release time
    stopped_after_stage: int | None
    requests_per_s: np.ndarray  # cloud requests/messages in each 1-second bin
    bytes_moved: float
    push_channel_bytes: float  # the part of bytes_moved sent over the push gateways

    def summary(self) -> dict[str, float]:
        lags = self.lag_s[np.isfinite(self.lag_s)]
        return {
            "p50_delivery_s": float(np.percentile(lags, 50)) if len(lags) else 0.0,
            "p99_delivery_s": float(np.percentile(lags, 99)) if len(lags) else 0.0,
            "peak_requests_per_s": float(self.requests_per_s.max()),
            "bytes_moved": float(self.bytes_moved),
            "push_channel_bytes": float(self.push_channel_bytes),
            "delivered": int(np.isfinite(self.delivered_at_s).sum()),
        }


def assign_stages(eligible: np.ndarray, stages: tuple[float, ...], seed: int) -> np.ndarray:
    """Stage index per eligible device (a seeded random order cut at the cumulative fractions)."""
    if not stages or any(b <= a for a, b in zip(stages, stages[1:], strict=False)) or stages[-1] > 1:
        raise ValueError(f"stages must be increasing fractions ending at most at 1, got {stages}")
    stage = np.full(len(eligible), -1, dtype=np.int64)
    index = np.flatnonzero(eligible)
    order = np.random.default_rng(seed).permutation(len(index))
    bounds = np.ceil(np.asarray(stages) * len(index)).astype(np.int64)
    rank = np.empty(len(index), dtype=np.int64)
    rank[order] = np.arange(len(index))
    in_plan = rank < bounds[-1]
    stage[index[in_plan]] = np.searchsorted(bounds, rank[in_plan], side="right")
    return stage


def _rate_limited_send(release_s: float, count: int, rate: float) -> np.ndarray:
    """Send times of ``count`` messages queued at ``release_s`` at ``rate`` per second."""
    return release_s + np.arange(count) / rate


def _strategy_delivery(
    strategy: str, fleet: Fleet, members: np.ndarray, release_s: float, config: ReleaseConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[np.ndarray], float]:
    """Delivery times of one stage's devices, the cloud request times, and bytes moved."""
    online = np.maximum(fleet.online_at_s[members], release_s)
    transfer = config.bundle_bytes / fleet.downlink_bytes_per_s[members]
    n = len(members)
    if strategy == "pull":
        interval = config.poll_interval_s
        phase = fleet.poll_phase_s[members]
        polls = np.ceil((online - phase) / interval)
        found = phase + np.maximum(polls, 0) * interval
        delivered = found + transfer
        return delivered, [found], n * config.bundle_bytes
    push_rate = config.push_messages_per_s
    if strategy == "push":
        push_rate = min(push_rate, config.push_channel_bytes_per_s / config.bundle_bytes)
        order = rng.permutation(n)
        sent = np.empty(n)
        sent[order] = _rate_limited_send(release_s, n, push_rate)
        delivered = np.maximum(sent, online) + transfer
        return delivered, [np.maximum(sent, online)], n * config.bundle_bytes
    if strategy == "push_then_pull":
        push_rate = min(push_rate, config.push_channel_bytes_per_s / config.notification_bytes)
        order = rng.permutation(n)
        sent = np.empty(n)
        sent[order] = _rate_limited_send(release_s, n, push_rate)
        notified = np.maximum(sent, online)
        pulled = notified + rng.uniform(0.0, config.pull_jitter_s, size=n)
        bytes_moved = n * (config.bundle_bytes + config.notification_bytes)
        return pulled + transfer, [notified, pulled], bytes_moved
    raise ValueError(f"unknown strategy {strategy!r}; use one of {STRATEGIES}")


def _poll_counts(fleet: Fleet, interval: float, horizon_s: float) -> np.ndarray:
    """Requests per second from every device polling while online, up to the horizon."""
    bins = np.zeros(int(np.ceil(horizon_s)) + 1)
    for k in range(int(np.ceil(horizon_s / interval)) + 1):
        times = fleet.poll_phase_s + k * interval
        times = times[(times >= fleet.online_at_s) & (times < horizon_s)]
        bins += np.bincount(times.astype(np.int64), minlength=len(bins))[: len(bins)]
    return bins


def simulate_release(
    fleet: Fleet, policy: Policy, config: ReleaseConfig, strategy: str, seed: int
) -> ReleaseResult:
    """Release the task with ``strategy`` under ``policy`` and the gray-release plan."""
    rng = np.random.default_rng(seed)
    eligible = policy.eligible(fleet)
    stage = assign_stages(eligible, config.stages, seed)
    failure_p = np.array([config.failure_rate.get(c, 0.0) for c in DEVICE_CLASSES])
    fails = rng.random(fleet.size) < failure_p[fleet.device_class]
    delivered = np.full(fleet.size, np.nan)
    lag = np.full(fleet.size, np.nan)
    request_times: list[np.ndarray] = []
    bytes_moved = 0.0
    stopped = None
    for index in range(len(config.stages)):
        release_s = index * config.stage_duration_s
        members = np.flatnonzero(stage == index)
        times, requests, moved = _strategy_delivery(strategy, fleet, members, release_s, config, rng)
        delivered[members], lag[members] = times, times - release_s
        request_times += requests
        bytes_moved += moved
        check_s = release_s + config.stage_duration_s
        reported = np.isfinite(delivered) & (delivered <= check_s)
        last = index == len(config.stages) - 1
        enough = reported.sum() >= config.min_reports
        if not last and enough and fails[reported].mean() > config.failure_threshold:
            stopped = index
            break
    released = (stage >= 0) & (stage <= (len(config.stages) - 1 if stopped is None else stopped))
    bins = np.zeros(int(np.ceil(config.horizon_s)) + 1)
    for times in request_times:
        times = times[times < config.horizon_s]
        bins += np.bincount(times.astype(np.int64), minlength=len(bins))[: len(bins)]
    if strategy == "pull":
        bins += _poll_counts(fleet, config.poll_interval_s, config.horizon_s)
        polls = bins.sum() - sum(len(t) for t in request_times)
        bytes_moved += polls * config.poll_bytes
    per_message = {"push": config.bundle_bytes, "push_then_pull": config.notification_bytes}
    push_channel = float(np.isfinite(delivered).sum() * per_message.get(strategy, 0))
    return ReleaseResult(strategy, eligible, stage, released, delivered, lag, stopped, bins,
                         bytes_moved, push_channel)


def compare_release_strategies(
    fleet: Fleet, policy: Policy, config: ReleaseConfig, seed: int
) -> tuple[pd.DataFrame, dict[str, ReleaseResult]]:
    """One row per strategy: p50/p99 delivery lag, peak cloud requests/s, bytes moved."""
    results = {s: simulate_release(fleet, policy, config, s, seed) for s in STRATEGIES}
    rows = [{"strategy": s, **r.summary(), "stopped_after_stage": -1 if r.stopped_after_stage
             is None else r.stopped_after_stage} for s, r in results.items()]
    return pd.DataFrame(rows), results


__all__ = [
    "DEVICE_CLASSES",
    "STRATEGIES",
    "Fleet",
    "Policy",
    "ReleaseConfig",
    "ReleaseResult",
    "assign_stages",
    "compare_release_strategies",
    "make_fleet",
    "simulate_release",
]
