"""Device profiles, the cost model and the device-model registry."""

import pytest
import torch

from dcpipelines.core.devices.costs import cost_table, count_flops
from dcpipelines.core.devices.edge_models import DigitsMLP
from dcpipelines.core.devices.profiles import PROFILES, profile_table
from dcpipelines.core.devices.registry import (
    get_device_model,
    register_device_model,
    registered_device_models,
)


@pytest.mark.parametrize("profile", list(PROFILES.values()), ids=list(PROFILES))
def test_cost_model_is_monotonic_in_flops_and_bytes(profile):
    small = profile.estimate(flops=1e6, bytes_touched=1e4, memory_mb=1)
    more_flops = profile.estimate(flops=1e9, bytes_touched=1e4, memory_mb=1)
    more_bytes = profile.estimate(flops=1e6, bytes_touched=1e9, memory_mb=1)
    assert more_flops["est_latency_ms"] > small["est_latency_ms"]
    assert more_bytes["est_latency_ms"] > small["est_latency_ms"]
    assert more_flops["est_energy_mj"] > small["est_energy_mj"]
    assert profile.transfer_s(2e6) > profile.transfer_s(1e6) > 0
    with pytest.raises(ValueError):
        profile.estimate(flops=-1, bytes_touched=0, memory_mb=0)


def test_every_profile_figure_says_where_it_comes_from():
    table = profile_table()
    assert set(table["profile"]) == set(PROFILES)
    assert table["source"].str.match(r"^(documented|estimated)").all()
    for profile in PROFILES.values():
        assert {"peak_gflops", "memory_gb", "active_power_w", "uplink_mbit_s"} <= set(profile.sources)


def test_flop_counter_counts_a_linear_layer():
    layer = torch.nn.Linear(64, 10, bias=False)
    assert count_flops(layer, torch.zeros(1, 64)) == 2 * 64 * 10
    assert count_flops(DigitsMLP(hidden=32), torch.zeros(1, 1, 8, 8)) == 2 * (64 * 32 + 32 * 32 + 32 * 10)


def test_registry_holds_the_edge_models_and_takes_new_ones():
    assert {"digits_cnn", "digits_mlp", "item_embedding_scorer", "image_cnn32"} <= set(
        registered_device_models()
    )
    entry = register_device_model("tiny_mlp_for_test", lambda: DigitsMLP(hidden=8).eval(),
                                  torch.zeros(1, 1, 8, 8), "test")
    assert get_device_model("tiny_mlp_for_test") is entry
    with pytest.raises(KeyError, match="no device model 'nope'"):
        get_device_model("nope")
    with pytest.raises(ValueError, match="identifier"):
        register_device_model("bad name", DigitsMLP, torch.zeros(1))


def test_cost_table_measures_and_estimates_every_model_on_every_profile():
    models = {
        "small": register_device_model("small_for_test", lambda: DigitsMLP(hidden=8).eval(),
                                       torch.zeros(1, 1, 8, 8)),
        "large": register_device_model("large_for_test", lambda: DigitsMLP(hidden=512).eval(),
                                       torch.zeros(1, 1, 8, 8)),
    }
    measured, estimates = cost_table(models, dict(rounds=1, repeats=3, warmup=1))
    measured = measured.set_index("model")
    assert measured.loc["large_for_test", "flops"] > 50 * measured.loc["small_for_test", "flops"]
    assert measured.loc["large_for_test", "mnn_bytes"] > measured.loc["large_for_test", "param_bytes"]
    assert (measured["mnn_max_abs_err"] <= 1e-4).all()
    assert len(estimates) == 2 * len(PROFILES)
    pivot = estimates.pivot(index="profile", columns="model", values="est_latency_ms")
    assert (pivot["large_for_test"] >= pivot["small_for_test"]).all()
    download = estimates.pivot(index="profile", columns="model", values="model_download_s")
    assert (download["large_for_test"] > download["small_for_test"]).all()
