"""Queues for the release simulation: closed-form M/M/c, a vectorised fluid queue, and SimPy.

- :func:`erlang_c` and :func:`mmc_wait` give the stationary M/M/c waiting time (Erlang C),
  the closed form the other two are checked against.
- :func:`fluid_queue` runs one cloud component on a 1-second grid: arrivals join a FIFO
  backlog served at ``capacity`` requests per second; a request that would wait longer than
  ``timeout_s`` is rejected and comes back after an exponential back-off, up to
  ``max_retries`` times. Where the backlog never reaches the limit there are no rejections and
  the backlog is the Lindley recursion, computed in numpy at once; the per-second loop runs
  only over overloaded stretches. On top of the backlog, the stationary M/M/c wait at the
  current utilisation adds the stochastic queueing that a fluid model leaves out (a pointwise
  stationary approximation).
- :func:`simulate_mmc` is the discrete-event reference: one SimPy resource with ``servers``
  servers, Poisson arrivals, exponential service.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def erlang_c(servers: int, offered_load: np.ndarray | float) -> np.ndarray:
    """Probability that an arrival waits in an M/M/c queue (offered load a = lambda / mu).

    Computed through the Erlang B recursion, which stays stable for hundreds of servers;
    1 where the load reaches the number of servers (the queue has no stationary state)."""
    load = np.asarray(offered_load, dtype=np.float64)
    blocking = np.ones_like(load)
    for k in range(1, servers + 1):
        blocking = load * blocking / (k + load * blocking)
    with np.errstate(divide="ignore", invalid="ignore"):
        waiting = servers * blocking / (servers - load * (1.0 - blocking))
    return np.where(load < servers, np.clip(waiting, 0.0, 1.0), 1.0)


def mmc_wait(arrival_rate: float, service_rate: float, servers: int) -> tuple[float, float]:
    """Stationary M/M/c: (probability of waiting, mean wait in seconds). Needs lambda < c mu."""
    if arrival_rate >= servers * service_rate:
        raise ValueError(f"M/M/c is unstable: lambda {arrival_rate} >= c*mu {servers * service_rate}")
    p_wait = float(erlang_c(servers, arrival_rate / service_rate))
    return p_wait, p_wait / (servers * service_rate - arrival_rate)


def mmc_wait_quantile(arrival_rate: float, service_rate: float, servers: int, q: float) -> float:
    """The q-quantile of the stationary M/M/c wait: 0 below 1 - P(wait), exponential above."""
    p_wait, _ = mmc_wait(arrival_rate, service_rate, servers)
    if q <= 1.0 - p_wait:
        return 0.0
    return float(np.log(p_wait / (1.0 - q)) / (servers * service_rate - arrival_rate))


@dataclass(frozen=True)
class QueueSpec:
    """One cloud component: capacity (requests/s), servers it is split into, queue limit."""

    name: str
    capacity_per_s: float
    servers: int = 64
    timeout_s: float = 10.0  # a request that would wait longer is rejected (inf: never)
    max_retries: int = 5
    backoff_s: float = 2.0  # mean back-off before retry k is backoff_s * 2**k, capped
    backoff_cap_s: float = 300.0

    def __post_init__(self) -> None:
        if self.capacity_per_s <= 0 or self.servers < 1:
            raise ValueError(f"{self.name}: capacity_per_s and servers must be positive")

    def backoff_mean_s(self, attempt: int) -> float:
        """Mean wait before retry number ``attempt`` (0 = first retry)."""
        return min(self.backoff_s * 2.0**attempt, self.backoff_cap_s)


@dataclass
class QueueTrace:
    """Per-second series of one component (index = second of the horizon)."""

    spec: QueueSpec
    offered: np.ndarray  # arrivals, retries included
    served: np.ndarray
    rejected: np.ndarray
    given_up: np.ndarray  # rejected requests that had no retry left
    backlog: np.ndarray  # at the end of each second
    wait_s: np.ndarray  # FIFO backlog wait of a request accepted in that second
    reject_p: np.ndarray  # share of that second's arrivals rejected

    def peak_utilisation(self, window_s: int = 10) -> float:
        """Highest offered load over a sliding window, as a share of capacity."""
        window = max(1, min(window_s, len(self.offered)))
        sums = np.convolve(self.offered, np.ones(window), mode="valid")
        return float(sums.max() / (self.spec.capacity_per_s * window))


def _lindley(arrivals: np.ndarray, capacity: float, start: float) -> np.ndarray:
    """Backlog at the end of each second with unlimited queue: B_t = max(0, B_{t-1} + a_t - K)."""
    walk = start + np.cumsum(arrivals - capacity)
    return walk - np.minimum(np.minimum.accumulate(walk), 0.0)


def _backoff_kernel(mean_s: float, length: int) -> np.ndarray:
    """Probability of retrying k seconds later (k >= 1), exponential back-off with ``mean_s``."""
    edges = np.arange(length + 1, dtype=np.float64)
    cdf = 1.0 - np.exp(-edges / mean_s)
    kernel = np.diff(cdf)
    kernel[-1] += 1.0 - cdf[-1]
    return np.concatenate([[0.0], kernel])[:length]


def fluid_queue(release: np.ndarray, background: np.ndarray | None, spec: QueueSpec) -> QueueTrace:
    """Run one component over the horizon; ``release`` requests retry, ``background`` ones do not."""
    horizon = len(release)
    background = np.zeros(horizon) if background is None else background
    capacity = spec.capacity_per_s
    limit = capacity * spec.timeout_s
    retry = np.zeros((spec.max_retries + 1, horizon))  # retry[k]: arrivals on attempt k
    retry[0] = release
    kernels = [_backoff_kernel(spec.backoff_mean_s(k), min(horizon, int(spec.backoff_cap_s * 8)))
               for k in range(spec.max_retries)]
    offered, rejected, given_up, backlog = (np.zeros(horizon) for _ in range(4))
    t, level = 0, 0.0
    while t < horizon:
        arrivals = retry[:, t:].sum(axis=0) + background[t:]
        free = _lindley(arrivals, capacity, level)
        over = np.flatnonzero(free > limit)
        stop = horizon if len(over) == 0 else t + int(over[0])
        offered[t:stop], backlog[t:stop] = arrivals[: stop - t], free[: stop - t]
        if stop == horizon:
            break
        level = backlog[stop - 1] if stop > 0 else 0.0
        t, level = _overloaded_stretch(stop, level, retry, background, kernels, spec,
                                       (offered, rejected, given_up, backlog))
    served = np.concatenate([[0.0], backlog[:-1]]) + offered - rejected - backlog
    reject_p = np.divide(rejected, offered, out=np.zeros(horizon), where=offered > 0)
    return QueueTrace(spec, offered, served, rejected, given_up, backlog,
                      _fifo_wait(offered - rejected, served), reject_p)


def _overloaded_stretch(t, level, retry, background, kernels, spec, out):
    """Second by second from ``t`` while the queue is at its limit; returns where it drained."""
    offered, rejected, given_up, backlog = out
    horizon, capacity = retry.shape[1], spec.capacity_per_s
    limit = capacity * spec.timeout_s
    while t < horizon:
        per_attempt = retry[:, t]
        total = per_attempt.sum() + background[t]
        room = max(limit + capacity - level, 0.0)
        accepted = min(total, room)
        share = 0.0 if total <= 0 else 1.0 - accepted / total
        offered[t], rejected[t] = total, total - accepted
        for k, kernel in enumerate(kernels):  # rejected attempt k comes back as attempt k + 1
            amount = per_attempt[k] * share
            if amount > 0:
                end = min(horizon, t + len(kernel))
                retry[k + 1, t:end] += amount * kernel[: end - t]
        given_up[t] = per_attempt[-1] * share
        level = max(level + accepted - capacity, 0.0)
        backlog[t] = level
        t += 1
        if share == 0.0 and level == 0.0:
            break
    return t, level


def _fifo_wait(accepted: np.ndarray, served: np.ndarray) -> np.ndarray:
    """Seconds a request accepted in each second waits behind the backlog (fluid FIFO)."""
    arrived = np.cumsum(accepted) - 0.5 * accepted  # the middle of each second's batch
    departed = np.concatenate([[0.0], np.cumsum(served)])
    times = np.arange(len(departed), dtype=np.float64)
    leave = np.interp(arrived, departed, times, right=np.inf)
    return np.maximum(leave - (np.arange(len(accepted)) + 0.5), 0.0)


def stochastic_wait(trace: QueueTrace, seconds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per-request M/M/c wait at the component's utilisation in the given seconds.

    Only where the fluid queue has no backlog (an overloaded second already waits in the
    backlog); a wait is cut at the queue limit ``timeout_s``, past which requests are refused."""
    spec = trace.spec
    mu = spec.capacity_per_s / spec.servers
    rate = trace.offered[seconds] - trace.rejected[seconds]
    calm = (rate < spec.capacity_per_s) & (trace.backlog[seconds] <= 0)
    rate = np.where(calm, rate, 0.0)
    p_wait = np.where(calm, erlang_c(spec.servers, rate / mu), 0.0)
    waits = rng.exponential(1.0, size=len(seconds)) / (spec.capacity_per_s - rate)
    return np.where(rng.random(len(seconds)) < p_wait, np.minimum(waits, spec.timeout_s), 0.0)


def simulate_mmc(arrival_rate: float, service_rate: float, servers: int, customers: int,
                 seed: int) -> np.ndarray:
    """Waiting times of ``customers`` Poisson arrivals at an M/M/c queue, simulated in SimPy."""
    import simpy

    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / arrival_rate, size=customers)
    services = rng.exponential(1.0 / service_rate, size=customers)
    env = simpy.Environment()
    pool = simpy.Resource(env, capacity=servers)
    waits = np.zeros(customers)

    def customer(index: int):
        arrived = env.now
        with pool.request() as slot:
            yield slot
            waits[index] = env.now - arrived
            yield env.timeout(services[index])

    def source():
        for index in range(customers):
            yield env.timeout(gaps[index])
            env.process(customer(index))

    env.process(source())
    env.run()
    return waits


__all__ = [
    "QueueSpec",
    "QueueTrace",
    "erlang_c",
    "fluid_queue",
    "mmc_wait",
    "mmc_wait_quantile",
    "simulate_mmc",
    "stochastic_wait",
]
