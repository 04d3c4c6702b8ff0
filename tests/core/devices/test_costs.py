"""Device profiles, the cost model and the hand-off form of device models."""

import pytest
import torch

from dcpipelines.core.devices.costs import cost_table, count_flops
from dcpipelines.core.devices.models import DeviceModel, check_entry, device_models, hand_off
from dcpipelines.core.devices.profiles import PROFILES, profile_table
from dcpipelines.core.nn.edge_models import DigitsMLP, reference_edge_models


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


def _entry(hidden: int) -> dict:
    return {"module": DigitsMLP(hidden=hidden).eval(), "example_input": torch.zeros(1, 1, 8, 8),
            "description": "test"}


def test_hand_off_names_models_after_their_pipeline_and_checks_them():
    handed = hand_off("walle", reference_edge_models())
    assert set(handed) == {"walle_digits_cnn", "walle_digits_mlp", "walle_item_embedding_scorer",
                           "walle_image_cnn32"}
    checked = device_models({"b_model": _entry(8), "a_model": _entry(8)})
    assert list(checked) == ["a_model", "b_model"] and isinstance(checked["a_model"], DeviceModel)
    with pytest.raises(ValueError, match="identifier"):
        check_entry("bad name", _entry(8))
    with pytest.raises(ValueError, match="fields"):
        check_entry("no_description", {"module": DigitsMLP(), "example_input": torch.zeros(1, 64)})
    with pytest.raises(ValueError, match="nn.Module"):
        check_entry("not_a_module", {**_entry(8), "module": lambda x: x})
    with pytest.raises(ValueError, match="batch-1"):
        check_entry("batch_of_two", {**_entry(8), "example_input": torch.zeros(2, 1, 8, 8)})


def test_cost_table_measures_and_estimates_every_model_on_every_profile():
    models = device_models({"small_for_test": _entry(8), "large_for_test": _entry(512)})
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
