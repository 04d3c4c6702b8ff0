"""torch -> ONNX -> MNN export, and inference with MNN's session API.

The converter is called through MNN's compiled ``_tools`` module. The ``mnnconvert`` console
script and ``MNN.tools`` are avoided on purpose: importing ``MNN.tools.utils.log`` sends usage
logs over the network and runs ``pip install`` when its logging SDK is missing.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


class MnnExportError(RuntimeError):
    """The ONNX -> MNN conversion failed."""


def export_onnx(model: torch.nn.Module, example_input: torch.Tensor, path: str | Path) -> Path:
    """Write ``model`` as ONNX (opset 17, fixed batch shape of ``example_input``)."""
    import torch  # imported here so that worker processes running MNN alone stay light

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example_input,),
            str(path),
            input_names=["input"],
            output_names=["output"],
            opset_version=17,
            dynamo=False,
        )
    return path


@contextlib.contextmanager
def _quiet_fd(fd: int):
    """Silence C-level writes to ``fd`` (the converter prints progress on stdout)."""
    saved = os.dup(fd)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)


def convert_onnx_to_mnn(onnx_path: str | Path, mnn_path: str | Path, fp16: bool = False) -> Path:
    """Convert an ONNX file to an MNN file with MNN's own converter."""
    import _tools  # MNN's compiled converter, shipped with the ``mnn`` wheel

    onnx_path, mnn_path = Path(onnx_path), Path(mnn_path)
    if not onnx_path.is_file():
        raise FileNotFoundError(f"ONNX file {onnx_path} does not exist; export the model first")
    mnn_path.parent.mkdir(parents=True, exist_ok=True)
    args = ["mnnconvert", "-f", "ONNX", "--modelFile", str(onnx_path), "--MNNModel", str(mnn_path)]
    args += ["--bizCode", "dcpipelines"] + (["--fp16"] if fp16 else [])
    with _quiet_fd(1):
        ok = _tools.mnnconvert(args)
    if not ok or not mnn_path.is_file():
        raise MnnExportError(f"MNN converter failed on {onnx_path}; check the model's ONNX ops")
    return mnn_path


SESSION_MODES = ("low", "normal", "high")


class MnnModel:
    """One MNN interpreter with one session: load a ``.mnn`` file and run batches through it.

    ``num_threads`` is MNN's intra-op thread count; ``precision``, ``memory`` and ``power`` are
    MNN's session hints (``normal`` keeps float32 on x86; ``low`` precision allows fp16/bf16
    where the build and CPU have it). A session is not thread-safe; give each concurrent task
    its own ``MnnModel``.
    """

    def __init__(self, path: str | Path, num_threads: int = 1, precision: str = "normal",
                 memory: str = "normal", power: str = "normal") -> None:
        import MNN

        self._mnn = MNN
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"MNN model {self.path} does not exist; run the export first")
        modes = {"precision": precision, "memory": memory, "power": power}
        bad = {k: v for k, v in modes.items() if v not in SESSION_MODES}
        if bad or num_threads < 1:
            raise ValueError(f"MNN session: {bad or {'num_threads': num_threads}} invalid; modes are "
                             f"{SESSION_MODES}, num_threads >= 1")
        self.interpreter = MNN.Interpreter(str(self.path))
        config: dict[str, object] = {"numThread": int(num_threads)}
        config.update({k: v for k, v in modes.items() if v != "normal"})
        with _quiet_fd(1):  # MNN prints the precision it picked
            self.session = self.interpreter.createSession(config)
        self._input = self.interpreter.getSessionInput(self.session)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Run one batch (shape and dtype as at export time) and return the output array."""
        mnn = self._mnn
        batch = np.ascontiguousarray(batch)
        dtype = mnn.Halide_Type_Int if batch.dtype.kind in "iu" else mnn.Halide_Type_Float
        batch = batch.astype(np.int32 if batch.dtype.kind in "iu" else np.float32, copy=False)
        if tuple(self._input.getShape()) != batch.shape:
            self.interpreter.resizeTensor(self._input, batch.shape)
            self.interpreter.resizeSession(self.session)
        host = mnn.Tensor(batch.shape, dtype, batch, mnn.Tensor_DimensionType_Caffe)
        self._input.copyFrom(host)
        status = self.interpreter.runSession(self.session)
        if status != 0:
            raise RuntimeError(
                f"MNN could not run {self.path.name} on an input of shape {batch.shape} "
                f"(error code {status}); feed the shape the model was exported with"
            )
        output = self.interpreter.getSessionOutput(self.session)
        return np.array(output.getNumpyData(), dtype=np.float32, copy=True)

    @property
    def memory_mb(self) -> float:
        """Memory MNN reports for this session (MB)."""
        return float(self.interpreter.getSessionInfo(self.session, 0))

    @property
    def mflops(self) -> float:
        """MNN's own count of the model's mega-FLOPs per run."""
        return float(self.interpreter.getSessionInfo(self.session, 1))


@dataclass(frozen=True)
class MnnExport:
    """Where an exported model lies and how close MNN's output is to torch's."""

    name: str
    onnx_path: Path
    mnn_path: Path
    mnn_bytes: int
    max_abs_err: float


def export_to_mnn(
    model: torch.nn.Module,
    example_input: torch.Tensor,
    directory: str | Path,
    name: str,
    check_inputs: torch.Tensor | None = None,
) -> MnnExport:
    """Export ``model`` to ``directory/name.{onnx,mnn}`` and measure MNN vs torch max abs error.

    ``check_inputs`` (a stack of inputs shaped like ``example_input``) are all compared; by
    default the example input alone.
    """
    directory = Path(directory)
    onnx_path = export_onnx(model, example_input, directory / f"{name}.onnx")
    mnn_path = convert_onnx_to_mnn(onnx_path, directory / f"{name}.mnn")
    runner = MnnModel(mnn_path)
    import torch

    inputs = [example_input] if check_inputs is None else list(check_inputs)
    error = 0.0
    with torch.no_grad():
        for x in inputs:
            x = x.reshape(example_input.shape)
            expected = model(x).float().numpy()
            error = max(error, float(np.abs(runner(x.numpy()) - expected).max()))
    return MnnExport(name, onnx_path, mnn_path, mnn_path.stat().st_size, error)


@dataclass(frozen=True)
class ExportedModel:
    """An export held in memory (so pipelines can pass it between nodes and persist it)."""

    name: str
    onnx: bytes
    mnn: bytes
    max_abs_err: float

    def write(self, directory: str | Path) -> tuple[Path, Path]:
        """Write ``name.onnx`` and ``name.mnn`` under ``directory``; returns both paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        onnx_path, mnn_path = directory / f"{self.name}.onnx", directory / f"{self.name}.mnn"
        onnx_path.write_bytes(self.onnx)
        mnn_path.write_bytes(self.mnn)
        return onnx_path, mnn_path


def export_in_memory(
    model: torch.nn.Module,
    example_input: torch.Tensor,
    name: str,
    check_inputs: torch.Tensor | None = None,
) -> ExportedModel:
    """:func:`export_to_mnn` through a scratch folder; returns the files' bytes and the error."""
    with tempfile.TemporaryDirectory(prefix="mnn-export-") as scratch:
        export = export_to_mnn(model, example_input, scratch, name, check_inputs)
        return ExportedModel(name, export.onnx_path.read_bytes(), export.mnn_path.read_bytes(),
                             export.max_abs_err)


__all__ = [
    "ExportedModel",
    "export_in_memory",
    "MnnExport",
    "MnnExportError",
    "MnnModel",
    "convert_onnx_to_mnn",
    "export_onnx",
    "export_to_mnn",
]
