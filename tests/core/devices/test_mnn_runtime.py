"""Round trips torch -> ONNX -> MNN on conv, MLP and embedding models, and the task runner."""

import numpy as np
import pytest
import torch

from dcpipelines.core.devices.mnn_runtime import (
    MnnExportError,
    MnnModel,
    convert_onnx_to_mnn,
    export_to_mnn,
)
from dcpipelines.core.devices.task_runner import MODES, DeviceTask, compare_concurrency, run_tasks
from dcpipelines.core.nn.edge_models import DigitsCNN, DigitsMLP, ItemEmbeddingScorer


def _models():
    torch.manual_seed(0)
    images = torch.rand(6, 1, 8, 8)
    items = torch.randint(0, 1000, (6, 1, 5))
    return {
        "conv": (DigitsCNN(), images[:1], images[:, None]),
        "mlp": (DigitsMLP(), images[:1], images[:, None]),
        "embedding": (ItemEmbeddingScorer(), items[0], items),
    }


@pytest.mark.parametrize("kind", ["conv", "mlp", "embedding"])
def test_mnn_matches_torch_in_float32(tmp_path, kind):
    model, example, checks = _models()[kind]
    export = export_to_mnn(model.eval(), example, tmp_path, kind, check_inputs=checks)
    assert export.mnn_path.is_file() and export.mnn_bytes > 0
    assert export.max_abs_err <= 1e-4
    # a fresh interpreter on the file gives torch's answer for another input too
    loaded = MnnModel(export.mnn_path)(checks[1].numpy())
    with torch.no_grad():
        expected = model(checks[1]).numpy()
    assert loaded.shape == expected.shape
    assert np.abs(loaded - expected).max() <= 1e-4


def test_mnn_file_holds_the_weights(tmp_path):
    small = export_to_mnn(DigitsMLP(hidden=16).eval(), torch.rand(1, 1, 8, 8), tmp_path, "s")
    large = export_to_mnn(DigitsMLP(hidden=256).eval(), torch.rand(1, 1, 8, 8), tmp_path, "l")
    assert large.mnn_bytes > 4 * (256 * 256) > small.mnn_bytes


def test_bad_inputs_get_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="export the model first"):
        convert_onnx_to_mnn(tmp_path / "missing.onnx", tmp_path / "x.mnn")
    (tmp_path / "junk.onnx").write_bytes(b"not an onnx file")
    with pytest.raises(MnnExportError, match="junk.onnx"):
        convert_onnx_to_mnn(tmp_path / "junk.onnx", tmp_path / "junk.mnn")
    with pytest.raises(FileNotFoundError, match="run the export first"):
        MnnModel(tmp_path / "nothing.mnn")


def test_concurrent_and_sequential_runs_compute_the_same(tmp_path):
    torch.manual_seed(1)
    cnn = export_to_mnn(DigitsCNN().eval(), torch.rand(1, 1, 8, 8), tmp_path, "cnn")
    mlp = export_to_mnn(DigitsMLP().eval(), torch.rand(1, 1, 8, 8), tmp_path, "mlp")
    rng = np.random.default_rng(0)
    tasks = [
        DeviceTask(f"task{i}", path, rng.random((20, 1, 8, 8), dtype=np.float32))
        for i, path in enumerate([cnn.mnn_path, mlp.mnn_path, cnn.mnn_path])
    ]
    table, walls = compare_concurrency(tasks, workers=3)
    assert set(walls) == set(MODES) and all(min(wall) > 0 for wall in walls.values())
    by_mode = {mode: group.set_index("task") for mode, group in table.groupby("mode")}
    for mode in ("threads", "processes", "mnn_threads"):
        assert list(by_mode[mode].index) == ["task0", "task1", "task2"]
        np.testing.assert_allclose(by_mode[mode]["checksum"], by_mode["sequential"]["checksum"],
                                   rtol=1e-5)
        assert (by_mode[mode]["requests"] == 20).all()
    assert (table["memory_mb"] > 0).all()
    with pytest.raises(ValueError, match="process pool"):
        run_tasks(tasks, 2, "processes")
    with pytest.raises(ValueError, match="unknown concurrency mode"):
        run_tasks(tasks, 2, "greenlets")


def test_mnn_session_modes_are_checked_and_keep_the_numbers(tmp_path):
    torch.manual_seed(1)
    export = export_to_mnn(DigitsCNN().eval(), torch.rand(1, 1, 8, 8), tmp_path, "cnn")
    x = np.random.default_rng(0).random((1, 1, 8, 8), dtype=np.float32)
    plain = MnnModel(export.mnn_path)(x)
    tuned = MnnModel(export.mnn_path, num_threads=2, precision="high", memory="high", power="high")(x)
    np.testing.assert_allclose(tuned, plain, atol=1e-5)
    with pytest.raises(ValueError, match="modes are"):
        MnnModel(export.mnn_path, precision="fastest")


def test_a_wrongly_shaped_input_raises_instead_of_returning_garbage(tmp_path):
    export = export_to_mnn(DigitsCNN().eval(), torch.rand(1, 1, 8, 8), tmp_path, "cnn")
    model = MnnModel(export.mnn_path)
    with pytest.raises(RuntimeError, match="could not run cnn.mnn"):
        model(np.zeros((1, 3, 8, 8), dtype=np.float32))
