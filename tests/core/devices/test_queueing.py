"""The release simulation's queues against closed forms and known answers."""

import math

import numpy as np
import pytest

from dcpipelines.core.devices.queueing import (
    QueueSpec,
    erlang_c,
    fluid_queue,
    mmc_wait,
    mmc_wait_quantile,
    simulate_mmc,
    stochastic_wait,
)


def _erlang_c_by_definition(c: int, a: float) -> float:
    """Erlang C from its textbook sum, for small c."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


@pytest.mark.parametrize(("c", "a"), [(1, 0.5), (2, 1.5), (5, 3.0), (10, 9.5)])
def test_erlang_c_matches_the_textbook_sum(c, a):
    assert float(erlang_c(c, a)) == pytest.approx(_erlang_c_by_definition(c, a), rel=1e-10)


def test_erlang_c_for_one_server_is_the_utilisation():
    # M/M/1: an arrival waits with probability rho, and waits rho / (mu - lambda) on average
    p_wait, mean = mmc_wait(arrival_rate=3.0, service_rate=4.0, servers=1)
    assert p_wait == pytest.approx(0.75)
    assert mean == pytest.approx(0.75 / 1.0)
    assert float(erlang_c(3, 3.0)) == 1.0
    with pytest.raises(ValueError, match="unstable"):
        mmc_wait(8.0, 2.0, servers=4)


@pytest.mark.parametrize(("lam", "mu", "c"), [(3.5, 1.0, 5), (11.0, 2.0, 8)])
def test_simpy_mmc_matches_erlang_c(lam, mu, c):
    # utilisation about 0.7: the sample mean of 75k correlated waits is good to a few percent
    waits = simulate_mmc(lam, mu, c, customers=80_000, seed=1)[5_000:]  # drop the warm-up
    p_wait, mean = mmc_wait(lam, mu, c)
    assert (waits > 0).mean() == pytest.approx(p_wait, abs=0.02)
    assert waits.mean() == pytest.approx(mean, rel=0.1)
    assert np.quantile(waits, 0.95) == pytest.approx(mmc_wait_quantile(lam, mu, c, 0.95), rel=0.1)


def test_the_models_stationary_wait_is_erlang_c():
    # constant load below capacity: no backlog, so the wait is the M/M/c part alone
    spec = QueueSpec("poll", capacity_per_s=100.0, servers=10)
    trace = fluid_queue(np.full(2000, 80.0), None, spec)
    assert trace.backlog.max() == pytest.approx(0.0) and trace.rejected.sum() == 0
    seconds = np.full(200_000, 1000)
    waits = stochastic_wait(trace, seconds, np.random.default_rng(0))
    p_wait, mean = mmc_wait(80.0, 10.0, 10)
    assert (waits > 0).mean() == pytest.approx(p_wait, abs=0.01)
    assert waits.mean() == pytest.approx(mean, rel=0.05)


def test_zero_load_means_no_queueing():
    spec = QueueSpec("edge", capacity_per_s=50.0)
    arrivals = np.zeros(600)
    arrivals[::60] = 1.0  # one request a minute
    trace = fluid_queue(arrivals, None, spec)
    assert trace.wait_s[::60].max() == pytest.approx(0.0, abs=1e-9)
    assert trace.backlog.max() == 0 and trace.rejected.sum() == 0
    np.testing.assert_allclose(trace.served.sum(), arrivals.sum())


def test_arrivals_above_capacity_build_a_queue_that_grows_linearly():
    spec = QueueSpec("gateway", capacity_per_s=100.0, timeout_s=np.inf)
    trace = fluid_queue(np.full(300, 150.0), None, spec)
    np.testing.assert_allclose(trace.backlog, 50.0 * np.arange(1, 301))
    # FIFO: the request accepted in the middle of second t leaves when 150 t + 75 have been
    # served, at (150 t + 75) / 100: it waits 0.5 t + 0.25 s; the last ones are not served in time
    assert trace.wait_s[100] == pytest.approx(50.25)
    assert np.isinf(trace.wait_s[-1])
    assert trace.peak_utilisation(60) == pytest.approx(1.5)


def test_a_full_queue_rejects_and_retries_come_back_later():
    spec = QueueSpec("gateway", capacity_per_s=10.0, timeout_s=5.0, max_retries=2, backoff_s=4.0)
    burst = np.zeros(4000)
    burst[0] = 1000.0
    trace = fluid_queue(burst, None, spec)
    assert trace.rejected[0] == pytest.approx(1000.0 - 60.0)  # limit 50 queued + 10 served
    assert trace.backlog.max() <= 50.0 + 1e-9
    # every request is served or given up; retries arrive after the burst
    assert trace.served.sum() + trace.given_up.sum() == pytest.approx(1000.0, rel=1e-6)
    assert trace.offered[1:].sum() > 900.0
    assert trace.given_up.sum() > 0


def test_no_retries_leave_more_requests_failed_than_retries():
    burst = np.zeros(4000)
    burst[0] = 1000.0
    once = fluid_queue(burst, None, QueueSpec("g", 10.0, timeout_s=5.0, max_retries=0))
    often = fluid_queue(burst, None, QueueSpec("g", 10.0, timeout_s=5.0, max_retries=5))
    assert once.given_up.sum() == pytest.approx(940.0)
    assert often.given_up.sum() < 0.5 * once.given_up.sum()
