"""Device profiles and a cost model: from a model's FLOPs, bytes and memory to estimated
latency, energy and transfer time on a Raspberry Pi 4, a Jetson Nano, a mid-range phone and a
cloud GPU server.

Every figure of a profile says where it comes from: ``documented`` (vendor specification) or
``estimated`` (our assumption, typically a sustained-load or achievable fraction that vendors
do not publish). The cost model is a roofline: latency = fixed overhead + max(compute time,
memory time), with an achievable fraction of peak compute for batch-1 inference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class DeviceProfile:
    """A device class the cost model estimates for: peak compute, memory, power and price, each with its source in the docs."""
    name: str
    peak_gflops: float  # FP32 peak of the unit that runs inference
    efficiency: float  # achievable fraction of peak for small batch-1 models
    memory_gb: float
    memory_bandwidth_gb_s: float
    active_power_w: float
    overhead_ms: float  # per-inference fixed cost (dispatch, kernel launches)
    uplink_mbit_s: float
    downlink_mbit_s: float
    sources: dict[str, str] = field(default_factory=dict)
    clock_ghz: float = 2.0  # CPU clock (the CPU dispatches inference, also for a GPU)
    cores: int = 4  # CPU cores
    list_price_usd: float = 0.0
    accelerator: str = "cpu"  # the unit that runs the model's arithmetic: "cpu" or "gpu"

    @property
    def core_peak_gflops(self) -> float:
        """FP32 peak of one CPU core (what one inference thread gets) for CPU profiles."""
        return self.peak_gflops / self.cores if self.accelerator == "cpu" else self.peak_gflops

    def estimate(self, flops: float, bytes_touched: float, memory_mb: float) -> dict[str, float]:
        """Estimated latency (ms), energy (mJ) and memory share for one inference."""
        if flops < 0 or bytes_touched < 0 or memory_mb < 0:
            raise ValueError("flops, bytes and memory must be non-negative")
        compute_ms = flops / (self.peak_gflops * 1e9 * self.efficiency) * 1e3
        memory_ms = bytes_touched / (self.memory_bandwidth_gb_s * 1e9) * 1e3
        latency_ms = self.overhead_ms + max(compute_ms, memory_ms)
        return {
            "est_latency_ms": latency_ms,
            "est_energy_mj": self.active_power_w * latency_ms,  # W x ms = mJ
            "est_peak_memory_mb": memory_mb,
            "memory_share": memory_mb / (self.memory_gb * 1024),
        }

    def transfer_s(self, payload_bytes: float, direction: str = "down") -> float:
        """Seconds to move ``payload_bytes`` over this device's link (no latency term)."""
        if payload_bytes < 0:
            raise ValueError("payload bytes must be non-negative")
        rate = {"down": self.downlink_mbit_s, "up": self.uplink_mbit_s}[direction]
        return payload_bytes * 8 / (rate * 1e6)


DOC, EST = "documented", "estimated"

PROFILES: dict[str, DeviceProfile] = {
    "raspberry_pi_4": DeviceProfile(
        "raspberry_pi_4", peak_gflops=48.0, efficiency=0.15, memory_gb=4.0,
        memory_bandwidth_gb_s=12.8, active_power_w=6.4, overhead_ms=0.05,
        uplink_mbit_s=100.0, downlink_mbit_s=100.0,
        sources={
            "peak_gflops": f"{DOC}: 4x Cortex-A72 at 1.5 GHz (Raspberry Pi 4 product brief) x "
                           "8 FP32 FLOP/cycle (NEON FMA); theoretical",
            "efficiency": EST, "memory_gb": f"{DOC}: 4 GB variant (product brief)",
            "memory_bandwidth_gb_s": f"{DOC}: LPDDR4-3200, 32-bit bus (theoretical)",
            "active_power_w": f"{EST}: full-load board power from third-party measurements",
            "overhead_ms": EST,
            "uplink_mbit_s": f"{EST}: achievable 802.11ac Wi-Fi (Gigabit Ethernet documented)",
            "downlink_mbit_s": f"{EST}: achievable 802.11ac Wi-Fi",
            "clock_ghz": f"{DOC}: Cortex-A72 at 1.5 GHz (product brief; 1.8 GHz on boards from "
                         "2020)",
            "cores": f"{DOC}: quad-core Cortex-A72 (product brief)",
            "list_price_usd": f"{DOC}: USD 55 for the 4 GB model (Raspberry Pi price list)",
        },
        clock_ghz=1.5, cores=4, list_price_usd=55.0,
    ),
    "jetson_nano": DeviceProfile(
        "jetson_nano", peak_gflops=236.0, efficiency=0.1, memory_gb=4.0,
        memory_bandwidth_gb_s=25.6, active_power_w=10.0, overhead_ms=0.5,
        uplink_mbit_s=1000.0, downlink_mbit_s=1000.0,
        sources={
            "peak_gflops": f"{DOC}: 472 GFLOPS FP16 for the 128-core Maxwell GPU (NVIDIA); "
                           "FP32 taken as half",
            "efficiency": f"{EST}: small batch-1 models use a fraction of the GPU",
            "memory_gb": f"{DOC}: 4 GB LPDDR4 shared", "memory_bandwidth_gb_s": f"{DOC}: 25.6 GB/s",
            "active_power_w": f"{DOC}: 10 W power mode (5 W mode also offered)",
            "overhead_ms": f"{EST}: CUDA kernel launches and host-device copies",
            "uplink_mbit_s": f"{DOC}: Gigabit Ethernet", "downlink_mbit_s": f"{DOC}: Gigabit Ethernet",
            "clock_ghz": f"{DOC}: quad-core Cortex-A57 at 1.43 GHz (developer kit specifications)",
            "cores": f"{DOC}: 4 Cortex-A57 cores",
            "list_price_usd": f"{DOC}: USD 99 at launch for the 4 GB developer kit (NVIDIA)",
        },
        clock_ghz=1.43, cores=4, list_price_usd=99.0, accelerator="gpu",
    ),
    "mid_range_phone": DeviceProfile(
        "mid_range_phone", peak_gflops=60.0, efficiency=0.2, memory_gb=6.0,
        memory_bandwidth_gb_s=17.0, active_power_w=3.0, overhead_ms=0.05,
        uplink_mbit_s=20.0, downlink_mbit_s=100.0,
        sources={
            "peak_gflops": f"{EST}: 2 big + 6 little Arm cores of a mid-range SoC, NEON FP32",
            "efficiency": EST, "memory_gb": f"{EST}: typical mid-range RAM",
            "memory_bandwidth_gb_s": f"{EST}: LPDDR4X, 2x16-bit channels",
            "active_power_w": f"{EST}: sustained SoC power under CPU load",
            "overhead_ms": EST, "uplink_mbit_s": f"{EST}: typical 4G/5G uplink",
            "downlink_mbit_s": f"{EST}: typical 4G/5G downlink",
            "clock_ghz": f"{EST}: big cores of a mid-range SoC at about 2.2 GHz",
            "cores": f"{EST}: 8 cores (2 big + 6 little); the peak counts all of them",
            "list_price_usd": f"{EST}: a mid-range phone at about USD 300",
        },
        clock_ghz=2.2, cores=8, list_price_usd=300.0,
    ),
    "cloud_gpu_server": DeviceProfile(
        "cloud_gpu_server", peak_gflops=19_500.0, efficiency=0.05, memory_gb=40.0,
        memory_bandwidth_gb_s=1555.0, active_power_w=400.0, overhead_ms=0.05,
        uplink_mbit_s=25_000.0, downlink_mbit_s=25_000.0,
        sources={
            "peak_gflops": f"{DOC}: NVIDIA A100 40 GB, 19.5 TFLOPS FP32 (datasheet)",
            "efficiency": f"{EST}: batch-1 tiny models leave the GPU mostly idle",
            "memory_gb": f"{DOC}: 40 GB HBM2", "memory_bandwidth_gb_s": f"{DOC}: 1,555 GB/s",
            "active_power_w": f"{DOC}: 400 W TDP (SXM4)",
            "overhead_ms": f"{EST}: kernel launch and copies",
            "uplink_mbit_s": f"{EST}: 25 GbE data-centre NIC",
            "downlink_mbit_s": f"{EST}: 25 GbE data-centre NIC",
            "clock_ghz": f"{DOC}: host CPU AMD EPYC 7742 at 2.25 GHz base (as in NVIDIA's DGX "
                         "A100 datasheet)",
            "cores": f"{DOC}: 64 cores per EPYC 7742",
            "list_price_usd": f"{EST}: about USD 10,000 per A100 40 GB card (NVIDIA publishes "
                              "no list price; street prices)",
        },
        clock_ghz=2.25, cores=64, list_price_usd=10_000.0, accelerator="gpu",
    ),
}


def profile_table(profiles: dict[str, DeviceProfile] | None = None) -> pd.DataFrame:
    """One row per profile: every figure with its source."""
    rows = []
    for profile in (profiles or PROFILES).values():
        for key, source in profile.sources.items():
            rows.append({"profile": profile.name, "figure": key,
                         "value": getattr(profile, key), "source": source})
    return pd.DataFrame(rows)


__all__ = ["PROFILES", "DeviceProfile", "profile_table"]
