"""The coda pipeline at test size on a planted click log, through an in-memory catalog."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from dcpipelines.core.data.errors import DataValidationError
from dcpipelines.core.reporting import is_wall_clock_metric
from dcpipelines.pipelines.coda import create_pipeline, nodes

ROOT = Path(__file__).resolve().parents[3]
PARAMS = yaml.safe_load((ROOT / "conf/test/parameters_coda.yml").read_text())["coda"]
PARAMS["seed"] = 5
PARAMS["cloud_model"].update(batch_size=32, epochs=4)  # the planted log is small: more steps
VARIANTS = ["cloud_global", "local_only", "local_random", "local_retrieved", "coda"]
REQUIRED = [f"{v}_{m}" for v in VARIANTS for m in ("gauc", "auc")] + [
    "users_improved_frac", "retrieved_per_user", "kept_per_user", "filter_precision",
    "download_bytes_per_user", "device_train_ms_per_user", "num_users_evaluated"]


def planted_click_log(groups=4, users_per_group=12, rows=24, items_per_group=15, seed=0):
    """Users of a group click their group's items; non-clicks are random items."""
    rng = np.random.default_rng(seed)
    num_items = groups * items_per_group
    out = []
    for user in range(1, groups * users_per_group + 1):
        group = (user - 1) % groups
        own = 1 + group * items_per_group + np.arange(items_per_group)
        clicked: list[int] = []
        for position in range(rows):
            label = int(position % 2 == 0 or rng.random() < 0.3)
            item = int(rng.choice(own)) if label else int(rng.integers(1, num_items + 1))
            out.append({"label": label, "user_id": user, "position": position, "item_id": item,
                        "history": ",".join(map(str, clicked[-10:])),
                        "history_length": len(clicked[-10:])})
            if label:
                clicked.append(item)
    return pd.DataFrame(out)


def _run(click_log: pd.DataFrame) -> dict:
    catalog = DataCatalog({
        "click_log": MemoryDataset(click_log),
        **{f"params:coda.{k}": MemoryDataset(v) for k, v in PARAMS.items()},
    })
    return SequentialRunner().run(create_pipeline(), catalog)


@pytest.fixture(scope="module")
def outputs():
    return _run(planted_click_log())


def test_pipeline_reports_every_variant_and_the_device_cost(outputs):
    report = outputs["coda.report"].load()
    for key in REQUIRED:
        assert key in report.metrics, key
    m = report.metrics
    assert m["retrieved_per_user"] == PARAMS["matching"]["retrieved_per_user"]
    assert 0 < m["kept_per_user"] <= m["retrieved_per_user"]
    assert m["num_users_evaluated"] <= m["num_users"] == 48
    history = PARAMS["data"]["max_history"]
    assert m["download_bytes_per_user"] == (
        (PARAMS["matching"]["retrieved_per_user"] + PARAMS["matching"]["outside_per_user"])
        * ((1 + history) * 4 + 1))
    assert is_wall_clock_metric("device_train_ms_per_user")
    assert m["num_seeds"] == PARAMS["seeds"]
    assert len(report.claims) == 5


def test_planted_groups_the_matching_and_the_filter_find_the_users_group(outputs):
    m = outputs["coda.report"].load().metrics
    # four equal groups: a random pool sample shares the user's future items about 1 time in 4
    assert m["retrieved_precision"] > 0.5
    # the device's classifier keeps the matched samples of its own group more often
    assert m["filter_precision"] > m["retrieved_precision"]
    # the cloud model learns the planted groups, and coda's personal models rank better still
    assert m["cloud_global_gauc"] > 0.6
    assert m["coda_gauc"] > m["cloud_global_gauc"] + 0.02


def test_a_click_log_without_history_names_the_column_and_the_fix():
    with pytest.raises(DataValidationError, match="history") as err:
        nodes.device_data(planted_click_log().drop(columns=["history"]), PARAMS["data"], 0)
    assert "ingest" in str(err.value)


def test_the_device_model_is_handed_over_and_runs_on_its_example():
    import torch

    catalog = DataCatalog({
        "click_log": MemoryDataset(planted_click_log(users_per_group=3)),
        **{f"params:coda.{k}": MemoryDataset(v) for k, v in PARAMS.items()},
    })
    pipeline = create_pipeline().to_outputs("coda.device_models")
    catalog["coda.device_models"] = MemoryDataset(copy_mode="assign")
    SequentialRunner().run(pipeline, catalog)
    models = catalog["coda.device_models"].load()
    entry = models["coda_personal_din"]
    assert not entry["module"].training
    assert entry["example_input"].shape == (1, 1 + PARAMS["data"]["max_history"])
    with torch.no_grad():
        assert entry["module"](entry["example_input"]).shape == (1,)


def test_the_cloud_models_loss_per_epoch_is_a_curve(outputs):
    curves = outputs["coda.report"].load().histories
    assert set(curves) == {"cloud_din_loss"}
    loss = curves["cloud_din_loss"]
    assert loss["step"].tolist() == list(range(1, PARAMS["cloud_model"]["epochs"] + 1))
    assert list(loss.columns) == ["step", "seed5", "seed6"]
    for run in ("seed5", "seed6"):
        assert loss[run].iloc[-1] < loss[run].iloc[0]  # the DIN learns the planted groups
