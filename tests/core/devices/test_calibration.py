"""The cost model's calibration: the fit, its held-out error, and carrying it to profiles."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from dcpipelines.core.devices import calibration as calib
from dcpipelines.core.devices.costs import calibrated_latency_ms
from dcpipelines.core.devices.mnn_runtime import export_in_memory
from dcpipelines.core.devices.profiles import PROFILES
from dcpipelines.core.nn.edge_models import DigitsCNN

HOST = calib.HostCompute(clock_ghz=2.5, flops_per_cycle=32.0)
TRUTH = calib.Calibration(overhead_ms=0.002, per_op_ms=0.0005,
                          efficiency={"conv": 0.6, "matmul": 0.25}, host=HOST)


def _synthetic(n: int, seed: int = 0, noise: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    features = pd.DataFrame({
        "model": [f"m{i}" for i in range(n)],
        "operators": rng.integers(3, 40, n),
        "conv_flops": rng.choice([0.0, 1.0], n) * rng.uniform(1e5, 5e7, n),
        "matmul_flops": rng.uniform(1e3, 5e6, n),
    })
    exact = calib.predict(TRUTH, features)
    features["measured_ms"] = exact * (1 + noise * rng.standard_normal(n))
    return features


def test_fit_recovers_known_parameters_from_exact_measurements():
    fitted = calib.fit(_synthetic(12), HOST)
    assert fitted.overhead_ms == pytest.approx(TRUTH.overhead_ms, rel=1e-4)
    assert fitted.per_op_ms == pytest.approx(TRUTH.per_op_ms, rel=1e-4)
    for family, efficiency in TRUTH.efficiency.items():
        assert fitted.efficiency[family] == pytest.approx(efficiency, rel=1e-4)


def test_fit_is_close_under_measurement_noise_and_held_out_error_tracks_the_noise():
    features = _synthetic(40, seed=1, noise=0.03)
    fitted = calib.fit(features, HOST)
    assert fitted.efficiency["conv"] == pytest.approx(0.6, rel=0.1)
    assert fitted.efficiency["matmul"] == pytest.approx(0.25, rel=0.1)
    held_out = calib.leave_one_out(features, HOST)
    assert 1.0 < calib.mape_pct(features["measured_ms"], held_out) < 6.0


def test_leave_one_out_predicts_each_model_from_a_fit_without_it():
    features = _synthetic(8, seed=2, noise=0.2)
    held_out = calib.leave_one_out(features, HOST)
    for i in (0, 5):
        rest = features.drop(index=i)
        expected = calib.predict(calib.fit(rest, HOST), features.iloc[[i]])[0]
        assert held_out[i] == pytest.approx(expected)
    # a held-out prediction differs from the in-sample fit when the data are noisy
    in_sample = calib.predict(calib.fit(features, HOST), features)
    assert not np.allclose(held_out, in_sample)
    assert calib.mape_pct([1.0, 2.0], [1.1, 1.8]) == pytest.approx(10.0)


def test_efficiency_never_exceeds_peak_and_too_few_models_are_refused():
    features = _synthetic(10, seed=3)
    features["measured_ms"] = 1e-9 + features["measured_ms"] * 0.01  # faster than peak allows
    fitted = calib.fit(features, HOST)
    assert all(e <= 1.0 + 1e-9 for e in fitted.efficiency.values())
    with pytest.raises(ValueError, match="at least"):
        calib.fit(_synthetic(3), HOST)
    with pytest.raises(ValueError, match="leave-one-out needs more"):
        calib.leave_one_out(_synthetic(4), HOST)


def test_host_clock_is_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Test CPU\ncpu MHz\t\t: 3100.000\n")
    assert calib.host_compute(info).clock_ghz == pytest.approx(3.1)
    assert calib.host_compute(tmp_path / "missing", default_clock_ghz=1.7).clock_ghz == 1.7


def test_operator_flops_split_into_families_and_operators_counted():
    model, example = DigitsCNN(channels=4).eval(), torch.zeros(1, 1, 8, 8)
    flops = calib.operator_flops(model, example)
    conv = 2 * (1 * 4 * 9 * 64 + 4 * 8 * 9 * 16)
    assert flops == {"conv": conv, "matmul": 2 * 8 * 10}
    # channels padded to 8 lanes: conv 1 -> 4 becomes 8 -> 8 (x16), conv 4 -> 8 becomes 8 -> 8 (x2)
    padded = calib.operator_flops(model, example, lanes=8)
    assert padded == {"conv": 2 * (16 * 1 * 4 * 9 * 64 + 2 * 4 * 8 * 9 * 16), "matmul": 2 * 8 * 10}
    assert calib.operator_flops(DigitsCNN(channels=8).eval(), example, lanes=8)["conv"] == \
        2 * (8 * 8 * 9 * 64 + 8 * 16 * 9 * 16)  # only the single input channel is padded
    export = export_in_memory(model, example, "cnn")
    assert calib.operator_count(export.onnx) >= 5  # 2 convs, 2 ReLUs, mean, linear


def test_calibration_carries_to_cpu_boards_by_clock_and_leaves_gpu_efficiency_assumed():
    measured = {"operators": 6, "conv_flops": 2e6, "matmul_flops": 1e4, "flops": 2.01e6,
                "param_bytes": 40_000, "io_bytes": 300}
    pi = PROFILES["raspberry_pi_4"]
    slow_pi = dataclasses.replace(pi, clock_ghz=pi.clock_ghz / 2, peak_gflops=pi.peak_gflops / 2)
    fast, basis = calibrated_latency_ms(measured, pi, TRUTH)
    slow, _ = calibrated_latency_ms(measured, slow_pi, TRUTH)
    assert slow == pytest.approx(2 * fast) and basis.startswith("calibrated")
    dispatch = (TRUTH.overhead_ms + 6 * TRUTH.per_op_ms) * HOST.clock_ghz / pi.clock_ghz
    compute = 2e6 / (pi.core_peak_gflops * 1e6 * 0.6) + 1e4 / (pi.core_peak_gflops * 1e6 * 0.25)
    assert fast == pytest.approx(dispatch + compute)
    nano = PROFILES["jetson_nano"]
    gpu, basis = calibrated_latency_ms(measured, nano, TRUTH)
    assert basis.startswith("GPU") and gpu > nano.overhead_ms
