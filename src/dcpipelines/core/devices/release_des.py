"""The release simulated request by request in SimPy: the reference for the vectorised model.

Same devices (drawn by :func:`.deployment.sample_devices` with weight 1), same components and
strategies as :func:`.deployment.release_paths`, but every request is an event: each component
is a ``simpy.Resource`` with ``servers`` servers and exponential service times (mean
``servers / capacity``); an arrival finding more than ``capacity x timeout_s`` requests queued
is rejected and retried after an exponential back-off. Pull's background polls from the whole
fleet are a Poisson stream whose rate follows the diurnal session rate. Small fleets only:
about 10^4 devices a second.
"""

from __future__ import annotations

import numpy as np

from dcpipelines.core.devices.deployment import (
    CloudConfig,
    Connectivity,
    Devices,
    Policy,
    ReleaseResult,
    sample_devices,
)
from dcpipelines.core.devices.queueing import QueueSpec


class _Component:
    """One cloud component: a SimPy resource, its queue limit and its request counts."""

    def __init__(self, env, spec: QueueSpec, horizon_s: int, rng: np.random.Generator) -> None:
        import simpy

        self.env, self.spec, self.rng = env, spec, rng
        self.resource = simpy.Resource(env, capacity=spec.servers)
        self.limit = spec.capacity_per_s * spec.timeout_s
        self.offered = np.zeros(horizon_s)

    def request(self, retry: bool = True):
        """Serve one request; returns whether it got through (after retries)."""
        spec = self.spec
        for attempt in range(spec.max_retries + 1):
            second = int(self.env.now)
            if second < len(self.offered):
                self.offered[second] += 1
            if len(self.resource.queue) < self.limit:
                with self.resource.request() as slot:
                    yield slot
                    yield self.env.timeout(self.rng.exponential(spec.servers / spec.capacity_per_s))
                return True
            if not retry or attempt == spec.max_retries:
                return False
            yield self.env.timeout(self.rng.exponential(spec.backoff_mean_s(attempt)))
        return False


def _device(env, index: int, devices: Devices, parts: dict[str, _Component], config: CloudConfig,
            strategy: str, rng: np.random.Generator, out: tuple[np.ndarray, np.ndarray]):
    delivered, gave_up = out

    def through(name: str):
        ok = yield env.process(parts[name].request())
        if not ok:
            gave_up[index] = True
        return ok

    start = devices.first_poll_s[index] if strategy == "pull" else devices.reachable_s[index]
    if not np.isfinite(start):
        if strategy != "pull":
            yield from through("fanout")
        return
    if strategy == "pull":
        yield env.timeout(start)
        ok = yield from through("poll_service")
    else:
        ok = yield from through("fanout")
        yield env.timeout(max(devices.reachable_s[index] - env.now, 0.0))
        ok = ok and (yield from through("push_gateway"))
        if ok and strategy == "push_then_pull":
            yield env.timeout(rng.uniform(0.0, config.pull_jitter_s))
            ok = yield from through("poll_service")
    if ok and strategy != "push":
        ok = yield from through("cdn_edge")
        if ok and rng.random() < config.cdn_miss_ratio:
            ok = yield from through("origin")
    if ok:
        yield env.timeout(config.bundle_bytes / devices.downlink_bytes_per_s[index])
        delivered[index] = env.now


def _background_polls(env, poll: _Component, fleet_size: int, connectivity: Connectivity,
                      config: CloudConfig, rng: np.random.Generator):
    """Polls of the whole fleet, a Poisson stream thinned to the diurnal rate."""

    def rate(t: float) -> float:
        return float(fleet_size * (connectivity.session_rate(np.array([t]))[0]
                                   + connectivity.online_share(np.array([t]))[0]
                                   / config.poll_interval_s))

    peak = max(rate(t) for t in np.linspace(0, config.horizon_s, 97))
    while True:
        yield env.timeout(rng.exponential(1.0 / peak))
        if rng.random() < rate(env.now) / peak:
            env.process(poll.request(retry=False))


def simulate_release_simpy(fleet_size: int, policy: Policy, connectivity: Connectivity,
                           config: CloudConfig, strategy: str, seed: int) -> ReleaseResult:
    """Release to every eligible device at once, one SimPy process per device."""
    import simpy

    eligible = int(round(fleet_size * policy.eligible_share()))
    rng = np.random.default_rng(seed)
    devices = sample_devices(eligible, 1.0, policy, connectivity, config, rng)
    env = simpy.Environment()
    names = {"pull": ("poll_service", "cdn_edge", "origin"),
             "push": ("fanout", "push_gateway"),
             "push_then_pull": ("fanout", "push_gateway", "poll_service", "cdn_edge", "origin")}
    parts = {n: _Component(env, config.spec(n, strategy), config.horizon_s, rng)
             for n in names[strategy]}
    delivered = np.full(devices.size, np.inf)
    gave_up = np.zeros(devices.size, dtype=bool)
    if strategy == "pull":
        env.process(_background_polls(env, parts["poll_service"], fleet_size, connectivity,
                                      config, rng))
    for index in range(devices.size):
        env.process(_device(env, index, devices, parts, config, strategy, rng,
                                (delivered, gave_up)))
    env.run(until=config.horizon_s)
    traces = {n: _trace(part) for n, part in parts.items()}
    return ReleaseResult(strategy, devices, delivered, gave_up, traces)


def _trace(part: _Component):
    """The counts a SimPy component gathered, in the vectorised model's trace form."""
    from dcpipelines.core.devices.queueing import QueueTrace

    zeros = np.zeros_like(part.offered)
    return QueueTrace(part.spec, part.offered, zeros, zeros, zeros, zeros, zeros, zeros)


__all__ = ["simulate_release_simpy"]
