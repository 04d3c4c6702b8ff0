"""The device cost model calibrated on measurements of this host.

The uncalibrated model (:mod:`profiles`) assumes one efficiency and one fixed overhead per
profile. Here the profile-independent parts are fitted to MNN batch-1 latencies measured on
this host:

    latency_ms = (overhead_ms + per_op_ms * operators) * host_clock / clock
                 + sum over operator families f of flops_f / (peak * efficiency_f)

``overhead_ms`` is the fixed cost of one inference (copying the input in, the output out,
session dispatch), ``per_op_ms`` the cost of dispatching one graph operator, both at the
host's clock; ``efficiency_f`` the fraction of one core's peak FLOP rate that MNN reaches on
operator family ``f`` (convolutions, matrix products). The fit minimises relative squared
error with every efficiency at most 1 (no kernel beats peak). The error of the calibrated
model is measured on models left out of the fit (leave one out), so it says how well the model
predicts a model it has not seen.

On a board the calibrated efficiencies are carried over as ratios of that board's peak and the
overheads scaled by the CPU clock; such figures are labelled ``estimated`` (calibrated here,
not measured there). Boards whose compute unit is a GPU keep their assumed GPU efficiency: a
CPU measurement says nothing about it.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FAMILIES = ("conv", "matmul")
PARAMETERS = ("overhead_ms", "per_op_ms", *(f"inv_efficiency_{f}" for f in FAMILIES))
# widest fp32 FMA the installed MNN build uses, per core: AVX2 (2 ports x 8 lanes x 2) on
# x86_64 (the wheel has no AVX-512 kernels), NEON (2 x 4 x 2) on Arm
FLOPS_PER_CYCLE = {"x86_64": 32.0, "AMD64": 32.0, "aarch64": 16.0, "arm64": 16.0}
# fp32 lanes of that vector unit: MNN packs channels by this many, so a convolution with 3 input
# channels costs as much as one with 8 on AVX2
SIMD_LANES = {"x86_64": 8, "AMD64": 8, "aarch64": 4, "arm64": 4}


@dataclass(frozen=True)
class HostCompute:
    """One core of this host as MNN sees it: clock (GHz) and fp32 FLOPs per cycle."""

    clock_ghz: float
    flops_per_cycle: float
    lanes: int = 8

    @property
    def peak_gflops(self) -> float:
        """Peak fp32 GFLOP/s of one core: clock times FLOPs per cycle."""
        return self.clock_ghz * self.flops_per_cycle


def host_compute(cpuinfo: str | Path = "/proc/cpuinfo", default_clock_ghz: float = 2.0) -> HostCompute:
    """This host's clock (the first ``cpu MHz`` line of ``cpuinfo``; ``default_clock_ghz`` where
    the file is missing) and the FLOPs per cycle of its architecture."""
    clock = default_clock_ghz
    path = Path(cpuinfo)
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.lower().startswith("cpu mhz"):
                clock = float(line.split(":")[1]) / 1000.0
                break
    machine = platform.machine()
    return HostCompute(clock, FLOPS_PER_CYCLE.get(machine, 16.0), SIMD_LANES.get(machine, 4))


def operator_flops(model: Any, example_input: Any, lanes: int = 1) -> dict[str, int]:
    """FLOPs of one forward pass per operator family (a multiply-add counts 2): convolutions
    and matrix products (linear layers, matmul, attention). With ``lanes`` > 1 a dense
    convolution counts its input and output channels rounded up to a multiple of ``lanes``,
    the work a SIMD kernel that packs channels actually does."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    padding = _ChannelPadding(lanes)
    hooks = [m.register_forward_hook(padding) for m in model.modules()
             if isinstance(m, torch.nn.modules.conv._ConvNd) and m.groups == 1 and lanes > 1]
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.no_grad():
            model(example_input)
    finally:
        for hook in hooks:
            hook.remove()
    flops = dict.fromkeys(FAMILIES, 0)
    for op, count in counter.get_flop_counts().get("Global", {}).items():
        flops["conv" if "conv" in str(op) else "matmul"] += int(count)
    flops["conv"] += padding.extra_flops
    return flops


class _ChannelPadding:
    """Forward hook on dense convolutions: the FLOPs that padding channels to ``lanes`` adds."""

    def __init__(self, lanes: int) -> None:
        self.lanes = lanes
        self.extra_flops = 0

    def __call__(self, module: Any, inputs: Any, output: Any) -> None:
        def pad(channels: int) -> int:
            return -(-channels // self.lanes) * self.lanes

        cin, cout = module.in_channels, module.out_channels
        kernel = int(np.prod(module.kernel_size))
        flops = 2 * (output.numel() // cout) * cin * cout * kernel
        self.extra_flops += flops * (pad(cin) * pad(cout)) // (cin * cout) - flops


def operator_count(onnx_bytes: bytes) -> int:
    """Operators in the exported graph (what MNN dispatches one by one)."""
    import onnx

    return len(onnx.load_from_string(onnx_bytes).graph.node)


def design_matrix(features: pd.DataFrame, host: HostCompute) -> np.ndarray:
    """One row per model: [1, operators, ms of each family's FLOPs at the host's peak]."""
    peak_per_ms = host.peak_gflops * 1e6
    columns = [np.ones(len(features)), features["operators"].to_numpy(float)]
    columns += [features[f"{f}_flops"].to_numpy(float) / peak_per_ms for f in FAMILIES]
    return np.column_stack(columns)


@dataclass(frozen=True)
class Calibration:
    """Fitted profile-independent parts of the cost model, at the host's clock."""

    overhead_ms: float
    per_op_ms: float
    efficiency: dict[str, float]  # family -> fraction of one core's peak
    host: HostCompute

    def cpu_latency_ms(self, operators: int, flops: dict[str, float], peak_gflops: float,
                       clock_ghz: float) -> tuple[float, float]:
        """(dispatch ms, compute ms) of one inference on a CPU of ``peak_gflops`` and
        ``clock_ghz``."""
        dispatch = (self.overhead_ms + self.per_op_ms * operators) * self.host.clock_ghz / clock_ghz
        compute = sum(flops.get(f, 0.0) / (peak_gflops * 1e6 * self.efficiency[f]) for f in FAMILIES)
        return dispatch, compute

    def as_dict(self) -> dict[str, float]:
        """Flat figures for a report."""
        return {"overhead_ms": self.overhead_ms, "per_op_ms": self.per_op_ms,
                **{f"efficiency_{f}": e for f, e in self.efficiency.items()},
                "host_clock_ghz": self.host.clock_ghz, "host_peak_gflops": self.host.peak_gflops}


def fit(features: pd.DataFrame, host: HostCompute) -> Calibration:
    """Fit the calibration to ``features`` (columns ``operators``, ``<family>_flops``,
    ``measured_ms``; one row per model) by least relative squared error."""
    from scipy.optimize import lsq_linear

    if len(features) < len(PARAMETERS):
        raise ValueError(f"calibration needs at least {len(PARAMETERS)} measured models, "
                         f"got {len(features)}")
    measured = features["measured_ms"].to_numpy(float)
    if (measured <= 0).any():
        raise ValueError("calibration: every measured latency must be positive")
    design = design_matrix(features, host) / measured[:, None]
    lower = np.array([0.0, 0.0] + [1.0] * len(FAMILIES))  # efficiency <= 1
    theta = lsq_linear(design, np.ones(len(measured)), bounds=(lower, np.inf)).x
    return Calibration(float(theta[0]), float(theta[1]),
                       {f: float(1.0 / theta[2 + i]) for i, f in enumerate(FAMILIES)}, host)


def predict(calibration: Calibration, features: pd.DataFrame) -> np.ndarray:
    """Host latency (ms) the calibration predicts for each row of ``features``."""
    host = calibration.host
    theta = [calibration.overhead_ms, calibration.per_op_ms,
             *(1.0 / calibration.efficiency[f] for f in FAMILIES)]
    return design_matrix(features, host) @ np.array(theta)


def leave_one_out(features: pd.DataFrame, host: HostCompute) -> np.ndarray:
    """Each model's latency as predicted by a calibration fitted without it."""
    if len(features) <= len(PARAMETERS):
        raise ValueError(f"leave-one-out needs more than {len(PARAMETERS)} measured models, "
                         f"got {len(features)}")
    predictions = []
    for i in range(len(features)):
        rest = features.drop(index=features.index[i])
        predictions.append(float(predict(fit(rest, host), features.iloc[[i]])[0]))
    return np.array(predictions)


def mape_pct(measured: Any, predicted: Any) -> float:
    """Mean absolute percentage error of ``predicted`` against ``measured``."""
    measured, predicted = np.asarray(measured, float), np.asarray(predicted, float)
    return float(100.0 * np.mean(np.abs(predicted - measured) / measured))


__all__ = [
    "FAMILIES",
    "PARAMETERS",
    "Calibration",
    "HostCompute",
    "design_matrix",
    "fit",
    "host_compute",
    "leave_one_out",
    "mape_pct",
    "operator_count",
    "operator_flops",
    "predict",
]
