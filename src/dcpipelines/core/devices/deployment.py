"""Releasing one ML task to a device fleet through cloud components with finite capacity.

Three strategies, as contrasted in Walle's deployment platform:

- ``push``: a fan-out service resolves the target devices and hands one message per device to
  the push gateway, which sends the whole bundle over the device's long connection (offline
  devices get it when they reconnect).
- ``pull``: every online device polls the task-configuration service at launch and every
  ``poll_interval_s``; the poll that finds the task is followed by a CDN download.
- ``push_then_pull``: the gateway sends only a small notification; after a random delay in
  ``[0, pull_jitter_s]`` the device fetches the task configuration and downloads the bundle
  from the CDN edge (misses go to the origin).

Each component (fan-out, push gateway, poll service, CDN edge, origin) is a queue with a
capacity, a queue limit (``timeout_s``) and retries with exponential back-off
(:mod:`.queueing`): delivery time depends on load. Devices come online over a diurnal cycle.
The queues run on the whole fleet's aggregate arrivals; per-device delivery times come from a
sample of at most ``sample_cap`` eligible devices, each standing for ``weight`` devices, so
10 million devices cost about as much as one million. :func:`simulate_release_simpy` runs the
same release request by request in SimPy, the reference at small fleet sizes.

Every number here is an assumption (see the pipeline's docs), not a measurement.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from dcpipelines.core.devices.queueing import QueueSpec, QueueTrace, fluid_queue, stochastic_wait

DAY_S = 86_400.0
STRATEGIES = ("push", "pull", "push_then_pull")
COMPONENTS = ("fanout", "push_gateway", "poll_service", "cdn_edge", "origin")
DEVICE_CLASSES = ("low_end_phone", "mid_range_phone", "high_end_phone", "tablet")
CLASS_SHARE = (0.3, 0.4, 0.2, 0.1)
DOWNLINK_MBIT = (5.0, 20.0, 50.0, 30.0)
REGIONS = ("east", "north", "south", "west", "overseas")
REGION_SHARE = (0.3, 0.25, 0.2, 0.15, 0.1)
APP_VERSIONS = (8, 9, 10)
APP_VERSION_SHARE = (0.1, 0.3, 0.6)


@dataclass(frozen=True)
class Policy:
    """Who gets the task: device models (classes), regions, a minimum app version."""

    device_classes: tuple[str, ...] = DEVICE_CLASSES
    regions: tuple[str, ...] = REGIONS
    min_app_version: int = 0

    def __post_init__(self) -> None:
        for name, values, known in (("device_classes", self.device_classes, DEVICE_CLASSES),
                                    ("regions", self.regions, REGIONS)):
            unknown = sorted(set(values) - set(known))
            if unknown:
                raise ValueError(f"policy {name}: unknown {unknown}; use {known}")

    def class_weights(self) -> np.ndarray:
        """Share of each device class among the whole fleet that the policy admits."""
        return np.array([s if c in self.device_classes else 0.0
                         for c, s in zip(DEVICE_CLASSES, CLASS_SHARE, strict=True)])

    def eligible_share(self) -> float:
        """Share of the fleet the policy admits (attributes drawn independently)."""
        regions = sum(s for r, s in zip(REGIONS, REGION_SHARE, strict=True) if r in self.regions)
        versions = sum(s for v, s in zip(APP_VERSIONS, APP_VERSION_SHARE, strict=True)
                       if v >= self.min_app_version)
        return float(self.class_weights().sum() * regions * versions)


@dataclass(frozen=True)
class Connectivity:
    """Devices open the app in sessions whose rate follows the time of day."""

    sessions_per_day: float = 6.0
    mean_session_s: float = 1800.0
    diurnal_amplitude: float = 0.6  # session rate swings +-60% around its mean
    peak_hour: float = 21.0
    release_hour: float = 21.0

    def session_rate(self, t_s: np.ndarray) -> np.ndarray:
        """Sessions per device per second at ``t_s`` seconds after the release."""
        hour = self.release_hour + np.asarray(t_s) / 3600.0
        shape = 1.0 + self.diurnal_amplitude * np.cos(2 * np.pi * (hour - self.peak_hour) / 24)
        return self.sessions_per_day / DAY_S * shape

    def online_share(self, t_s: np.ndarray) -> np.ndarray:
        """Share of devices online (session rate x mean session length, at most 1)."""
        return np.minimum(self.session_rate(t_s) * self.mean_session_s, 1.0)


@dataclass(frozen=True)
class CloudConfig:
    """Payloads, component capacities, queue limits and retries, the release's horizon."""

    bundle_bytes: float = 2e6
    notification_bytes: float = 256.0
    fanout_per_s: float = 100_000.0
    gateway_messages_per_s: float = 50_000.0
    gateway_bytes_per_s: float = 1.25e9
    poll_requests_per_s: float = 10_000.0
    cdn_edge_bytes_per_s: float = 1.25e10
    origin_bytes_per_s: float = 1.25e9
    cdn_miss_ratio: float = 0.05
    servers: int = 64
    timeout_s: float = 10.0
    max_retries: int = 5
    backoff_s: float = 2.0
    backoff_cap_s: float = 300.0
    poll_interval_s: float = 1800.0
    pull_jitter_s: float = 60.0
    horizon_s: int = 86_400
    utilisation_window_s: int = 10  # the queue limit's time scale: longer overload is refused

    def scaled(self, factor: float, servers: int) -> CloudConfig:
        """Every capacity times ``factor``: a small fleet that loads the cloud like a large one."""
        names = ("fanout_per_s", "gateway_messages_per_s", "gateway_bytes_per_s",
                 "poll_requests_per_s", "cdn_edge_bytes_per_s", "origin_bytes_per_s")
        return replace(self, servers=servers, **{n: getattr(self, n) * factor for n in names})

    def spec(self, component: str, strategy: str) -> QueueSpec:
        """The queue of one component under one strategy (the push payload sets its rate)."""
        payload = self.bundle_bytes if strategy == "push" else self.notification_bytes
        capacity = {
            "fanout": self.fanout_per_s,
            "push_gateway": min(self.gateway_messages_per_s, self.gateway_bytes_per_s / payload),
            "poll_service": self.poll_requests_per_s,
            "cdn_edge": self.cdn_edge_bytes_per_s / self.bundle_bytes,
            "origin": self.origin_bytes_per_s / self.bundle_bytes,
        }[component]
        timeout = np.inf if component == "fanout" else self.timeout_s
        return QueueSpec(component, capacity, self.servers, timeout, self.max_retries,
                         self.backoff_s, self.backoff_cap_s)


@dataclass
class Devices:
    """A sample of eligible devices; each stands for ``weight`` devices of the fleet."""

    device_class: np.ndarray
    downlink_bytes_per_s: np.ndarray
    reachable_s: np.ndarray  # first moment online after the release (inf: not in the horizon)
    first_poll_s: np.ndarray  # pull: the first poll after the release while online
    weight: float

    @property
    def size(self) -> int:
        """The number of device classes the cohort holds."""
        return len(self.device_class)


def sample_devices(count: int, weight: float, policy: Policy, connectivity: Connectivity,
                   config: CloudConfig, rng: np.random.Generator) -> Devices:
    """Draw eligible devices: class, downlink, when they come online, when they first poll."""
    shares = policy.class_weights()
    if shares.sum() == 0 or count < 1:
        raise ValueError("the policy admits no device class, or the sample is empty")
    device_class = rng.choice(len(DEVICE_CLASSES), size=count, p=shares / shares.sum())
    downlink = np.array(DOWNLINK_MBIT)[device_class] * rng.lognormal(0.0, 0.5, count) * 1e6 / 8
    grid, hazard = _cumulative_hazard(connectivity, config.horizon_s)
    online = rng.random(count) < connectivity.online_share(np.zeros(1))[0]
    reachable = np.where(online, 0.0, _next_session(np.zeros(count), grid, hazard, rng))
    # pull: an online device polls at a uniform phase if its session lasts that long,
    # otherwise at its next launch; a device coming online polls at launch
    phase = rng.uniform(0.0, config.poll_interval_s, count)
    session_left = rng.exponential(connectivity.mean_session_s, count)
    later = _next_session(session_left, grid, hazard, rng)
    first_poll = np.where(online, np.where(phase < session_left, phase, later), reachable)
    return Devices(device_class, downlink, reachable, first_poll, weight)


def _cumulative_hazard(connectivity: Connectivity, horizon_s: int) -> tuple[np.ndarray, np.ndarray]:
    grid = np.arange(0.0, horizon_s + 61.0, 60.0)
    rate = connectivity.session_rate(grid)
    return grid, np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * 60.0)])


def _next_session(after_s: np.ndarray, grid: np.ndarray, hazard: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """The first session start after ``after_s`` (inhomogeneous Poisson, inverse hazard)."""
    target = np.interp(after_s, grid, hazard) + rng.exponential(1.0, len(after_s))
    times = np.interp(target, hazard, grid)
    return np.where(target > hazard[-1], np.inf, times)


@dataclass
class Stage:
    """One component's queue trace and the per-device outcome of passing through it."""

    trace: QueueTrace
    depart_s: np.ndarray  # inf: not served in the horizon
    gave_up: np.ndarray


def pass_through(arrive_s: np.ndarray, weight: float, spec: QueueSpec, horizon_s: int,
                 rng: np.random.Generator, background: np.ndarray | None = None) -> Stage:
    """Devices arriving at one component: queue, rejections, back-off and retries."""
    live = np.isfinite(arrive_s) & (arrive_s < horizon_s)
    counts = np.bincount(arrive_s[live].astype(np.int64), minlength=horizon_s)[:horizon_s]
    trace = fluid_queue(counts * weight, background, spec)
    depart = np.full(len(arrive_s), np.inf)
    gave_up = np.zeros(len(arrive_s), dtype=bool)
    t, active = arrive_s.copy(), np.flatnonzero(live)
    for attempt in range(spec.max_retries + 1):
        second = t[active].astype(np.int64)
        rejected = rng.random(len(active)) < trace.reject_p[second]
        done, second_done = active[~rejected], second[~rejected]
        service = rng.exponential(spec.servers / spec.capacity_per_s, len(done))
        batch = (trace.offered - trace.rejected)[second_done] / spec.capacity_per_s
        place = np.maximum(trace.wait_s[second_done] + (rng.random(len(done)) - 0.5) * batch, 0.0)
        depart[done] = t[done] + place + stochastic_wait(trace, second_done, rng) + service
        active = active[rejected]
        if attempt == spec.max_retries:
            gave_up[active] = True
            break
        t[active] += rng.exponential(spec.backoff_mean_s(attempt), len(active))
        active = active[t[active] < horizon_s]
    return Stage(trace, depart, gave_up)


@dataclass
class ReleaseResult:
    """Per-device delivery (sampled devices) and per-component load of one release."""

    strategy: str
    devices: Devices
    delivered_s: np.ndarray  # inf: not delivered in the horizon
    gave_up: np.ndarray
    traces: dict[str, QueueTrace] = field(default_factory=dict)

    def lag_s(self) -> np.ndarray:
        """Delivery time minus the moment the device could first get the task."""
        start = self.devices.first_poll_s if self.strategy == "pull" else self.devices.reachable_s
        lag = np.full(len(start), np.inf)
        done = np.isfinite(self.delivered_s)
        lag[done] = self.delivered_s[done] - np.minimum(start, self.devices.reachable_s)[done]
        return lag

    def summary(self, window_s: int = 10) -> dict[str, float]:
        """p50/p99 delivery lag, failure rate, peak utilisation of every component.

        The failure rate is the share of reached devices whose request was refused more often
        than the retry budget allows; ``undelivered_rate`` also counts those still waiting
        at the horizon."""
        reached = np.isfinite(self.devices.reachable_s)
        delivered = np.isfinite(self.delivered_s)
        lag = self.lag_s()[delivered]
        row = {
            "p50_delivery_s": float(np.percentile(lag, 50)) if len(lag) else np.nan,
            "p99_delivery_s": float(np.percentile(lag, 99)) if len(lag) else np.nan,
            "failure_rate": float(self.gave_up.sum() / max(reached.sum(), 1)),
            "undelivered_rate": float((reached & ~delivered).sum() / max(reached.sum(), 1)),
            "delivered": float(delivered.sum() * self.devices.weight),
        }
        for name in COMPONENTS:
            trace = self.traces.get(name)
            row[f"peak_{name}_utilisation"] = 0.0 if trace is None else trace.peak_utilisation(window_s)
            row[f"{name}_requests"] = 0.0 if trace is None else float(trace.offered.sum())
        return row


def simulate_release(fleet_size: int, policy: Policy, connectivity: Connectivity,
                     config: CloudConfig, strategy: str, seed: int,
                     sample_cap: int = 1_000_000) -> ReleaseResult:
    """Release the task to every eligible device of a fleet at once with ``strategy``."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; use one of {STRATEGIES}")
    eligible = int(round(fleet_size * policy.eligible_share()))
    if eligible < 1:
        raise ValueError(f"the policy admits no device of a fleet of {fleet_size}")
    rng = np.random.default_rng(seed)
    count = min(eligible, sample_cap)
    devices = sample_devices(count, eligible / count, policy, connectivity, config, rng)
    return release_paths(devices, fleet_size, connectivity, config, strategy, rng)


def release_paths(devices: Devices, fleet_size: int, connectivity: Connectivity,
                  config: CloudConfig, strategy: str, rng: np.random.Generator) -> ReleaseResult:
    """Send sampled devices through the components of ``strategy``."""
    horizon, w = config.horizon_s, devices.weight
    traces: dict[str, QueueTrace] = {}
    gave_up = np.zeros(devices.size, dtype=bool)

    def through(name: str, arrive: np.ndarray, background: np.ndarray | None = None) -> np.ndarray:
        stage = pass_through(arrive, w, config.spec(name, strategy), horizon, rng, background)
        traces[name] = stage.trace
        gave_up[:] |= stage.gave_up
        return stage.depart_s

    if strategy == "pull":
        seconds = np.arange(horizon) + 0.5
        polls = fleet_size * (connectivity.session_rate(seconds)
                              + connectivity.online_share(seconds) / config.poll_interval_s)
        ready = through("poll_service", devices.first_poll_s, polls)
    else:
        targeted = through("fanout", np.zeros(devices.size))
        sent = through("push_gateway", np.maximum(targeted, devices.reachable_s))
        if strategy == "push":
            delivered = sent + config.bundle_bytes / devices.downlink_bytes_per_s
            return ReleaseResult(strategy, devices, _in_horizon(delivered, horizon), gave_up, traces)
        pulled = sent + rng.uniform(0.0, config.pull_jitter_s, devices.size)
        ready = through("poll_service", pulled)
    fetched = through("cdn_edge", ready)
    miss = rng.random(devices.size) < config.cdn_miss_ratio
    origin = through("origin", np.where(miss, fetched, np.inf))
    fetched = np.where(miss, origin, fetched)
    delivered = fetched + config.bundle_bytes / devices.downlink_bytes_per_s
    return ReleaseResult(strategy, devices, _in_horizon(delivered, horizon), gave_up, traces)


def _in_horizon(times: np.ndarray, horizon_s: int) -> np.ndarray:
    return np.where(times < horizon_s, times, np.inf)


def compare_strategies(fleet_sizes: list[int], policy: Policy, connectivity: Connectivity,
                       config: CloudConfig, seed: int, sample_cap: int = 1_000_000) -> pd.DataFrame:
    """One row per fleet size and strategy: delivery, failures, peak load per component, and
    the wall-clock seconds the simulation took (``wall_s``)."""
    rows = []
    for size in fleet_sizes:
        for strategy in STRATEGIES:
            started = time.perf_counter()
            result = simulate_release(size, policy, connectivity, config, strategy, seed, sample_cap)
            rows.append({"fleet_size": size, "strategy": strategy,
                         "eligible": round(size * policy.eligible_share()),
                         **result.summary(config.utilisation_window_s),
                         "wall_s": time.perf_counter() - started})
    return pd.DataFrame(rows)


def sweep(fleet_size: int, strategy: str, parameter: str, values: list[float], policy: Policy,
          connectivity: Connectivity, config: CloudConfig, seed: int,
          sample_cap: int = 100_000) -> pd.DataFrame:
    """The release re-run with one ``CloudConfig`` field set to each of ``values``."""
    if parameter not in CloudConfig.__dataclass_fields__:
        raise ValueError(f"unknown sweep parameter {parameter!r}; use a CloudConfig field")
    rows = []
    for value in values:
        changed = replace(config, **{parameter: type(getattr(config, parameter))(value)})
        result = simulate_release(fleet_size, policy, connectivity, changed, strategy, seed,
                                  sample_cap)
        rows.append({"strategy": strategy, "parameter": parameter, "value": float(value),
                     "fleet_size": fleet_size, **result.summary(config.utilisation_window_s)})
    return pd.DataFrame(rows)


__all__ = [
    "APP_VERSIONS",
    "COMPONENTS",
    "DEVICE_CLASSES",
    "REGIONS",
    "STRATEGIES",
    "CloudConfig",
    "Connectivity",
    "Devices",
    "Policy",
    "ReleaseResult",
    "compare_strategies",
    "pass_through",
    "release_paths",
    "sample_devices",
    "simulate_release",
    "sweep",
]
