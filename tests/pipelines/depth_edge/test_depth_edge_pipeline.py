"""The depth_edge pipeline at test size through an in-memory catalog, and its folder source."""

from pathlib import Path

import numpy as np
import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from dcpipelines.core.vision.depth_metrics import depth_metrics
from dcpipelines.core.vision.depth_study import rendered_splits, world_config
from dcpipelines.core.vision.forest import render_frames
from dcpipelines.core.vision.rgbd import Frames, RgbdFolder, downsample_depth, write_rgbd_folder
from dcpipelines.pipelines.depth_edge import create_pipeline
from dcpipelines.pipelines.depth_edge.nodes import frame_splits

ROOT = Path(__file__).resolve().parents[3]
PARAMS = yaml.safe_load(
    (ROOT / "conf/test/parameters_depth_edge.yml").read_text())["depth_edge"]
PARAMS["seed"] = 42
METRICS = ["rmse", "absrel", "log10", "delta1", "delta2", "delta3"]
PER_MODEL = ([f"{k}{s}" for k in METRICS for s in ("", "_blur")]
             + ["params", "mnn_bytes", "mnn_latency_ms", "onnxruntime_latency_ms",
                "torch_latency_ms", "mnn_max_abs_err", "peak_rss_mb", "rpi4_latency_ms_est",
                "rpi4_energy_mj_est", "jetson_nano_latency_ms_est"])


class _KeptDataset(MemoryDataset):
    """A memory dataset the runner cannot empty, to look at an intermediate output after a run."""

    def _release(self) -> None:
        pass


def _catalog(folder: Path | None = None) -> DataCatalog:
    return DataCatalog({
        "depth_edge.rgbd_folder": MemoryDataset(RgbdFolder(str(folder or "absent"))),
        "depth_edge.device_models": _KeptDataset(copy_mode="assign"),
        **{f"params:depth_edge.{k}": MemoryDataset(v) for k, v in PARAMS.items()},
        "params:depth_edge.report.example_frames": MemoryDataset(
            PARAMS["report"]["example_frames"]),
    })


@pytest.fixture(scope="module")
def outputs():
    catalog = _catalog()
    out = SequentialRunner().run(create_pipeline(), catalog)
    return {**out, "depth_edge.device_models": catalog["depth_edge.device_models"]}


def test_report_has_every_named_metric(outputs):
    report = outputs["depth_edge.report"].load()
    for model in ("ae", "multiscale"):
        for key in PER_MODEL:
            assert f"{model}_{key}" in report.metrics, f"{model}_{key}"
    m = report.metrics
    assert m["num_train_frames"] == PARAMS["data"]["frames"]["train"]
    assert m["seeds"] == PARAMS["seeds"]
    assert m["ae_mnn_max_abs_err"] < 1e-3 and m["multiscale_mnn_max_abs_err"] < 1e-3
    assert 0 < m["ae_peak_rss_mb"] < 2000
    assert m["ae_params"] > 0 and m["ae_mnn_bytes"] > 4 * m["ae_params"] * 0.9
    assert {"example_frames", "delta1_vs_blur", "board_table"} <= set(report.figures)
    assert set(report.tables["board_comparison"]["price_usd"]) == {55, 99}
    assert "synthetic" in report.notes


def test_trained_models_beat_a_constant_depth(outputs):
    """Both models, trained briefly, predict depth better than the training set's median."""
    report = outputs["depth_edge.report"].load()
    seed = PARAMS["seed"]
    split = rendered_splits(seed, PARAMS["data"], PARAMS["world"], PARAMS["blur"])
    constant = np.full_like(split.test.depth, np.median(split.train.depth))
    baseline = depth_metrics(constant, split.test.depth)["absrel"]
    scores = report.tables["scores_per_seed"]
    sharp = scores[(scores["seed"] == seed) & (scores["blur_length"] == 0)]
    assert (sharp["absrel"] < baseline).all(), (sharp, baseline)


def test_blur_lowers_accuracy(outputs):
    """Stronger motion blur costs accuracy (the condition the headline claim is about)."""
    scores = outputs["depth_edge.report"].load().tables["scores_per_seed"]
    longest = scores["blur_length"].max()
    for model in ("ae", "multiscale"):
        rows = scores[scores["model"] == model].groupby("blur_length")["delta1"].mean()
        assert rows[longest] < rows[0.0], rows


def test_device_models_follow_the_contract(outputs):
    import torch

    models = outputs["depth_edge.device_models"].load()
    assert set(models) == {"depth_edge_ae", "depth_edge_multiscale"}
    for entry in models.values():
        assert not entry["module"].training and entry["description"]
        x = entry["example_input"]
        assert x.shape == (1, 3, 48, 64)
        with torch.no_grad():
            assert entry["module"](x).shape == (1, 1, 24, 32)


def test_folder_source_reads_the_same_graph_input(tmp_path):
    data = {**PARAMS["data"], "source": "folder", "val_share": 0.25, "test_share": 0.25}
    config = world_config(data, PARAMS["world"])
    rgb, depth = render_frames(8, 3, config)
    written = Frames(rgb, downsample_depth(depth, 2))
    write_rgbd_folder(written, tmp_path)
    splits = frame_splits(RgbdFolder(str(tmp_path)), data, PARAMS["world"], PARAMS["blur"],
                          seed=1, seeds=2)
    assert sorted(splits) == [1, 2]
    for split in splits.values():
        assert (len(split.train), len(split.val), len(split.test)) == (4, 2, 2)
        for image in split.test.rgb:  # test frames are read as written (not blurred)
            assert any(np.array_equal(image, w) for w in written.rgb)
    every = np.concatenate([splits[1].train.depth, splits[1].val.depth, splits[1].test.depth])
    assert np.allclose(np.sort(every.ravel()), np.sort(written.depth.ravel()), atol=5e-4)
    with pytest.raises(ValueError, match="use 'synthetic' or 'folder'"):
        frame_splits(None, {**data, "source": "kitti"}, PARAMS["world"], PARAMS["blur"], 1, 1)


def test_loss_curves_have_a_step_per_epoch(outputs):
    curves = outputs["depth_edge.report"].load().histories
    assert set(curves) == {"train_loss", "val_loss"}
    for table in curves.values():
        assert table["step"].tolist() == list(range(1, PARAMS["training"]["epochs"] + 1))
        assert set(table.columns) == {"step", "ae", "multiscale"}
    train = curves["train_loss"]
    for model in ("ae", "multiscale"):
        assert train[model].iloc[-1] < train[model].iloc[0], train  # both models learn
