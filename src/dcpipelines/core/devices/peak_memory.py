"""Peak resident memory of a process that loads one MNN model and runs it.

The measurement runs in a fresh Python process (so nothing else this process holds counts):
it imports MNN, creates a one-thread session for the model, runs it ``runs`` times at batch 1,
and reports its peak resident set size (``VmHWM`` in ``/proc/self/status``, so Linux only)
before loading the model and at the end.
This is the footprint an inference process has on a board, apart from the interpreter's own
size on that platform.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

_SCRIPT = """
import json, sys
import numpy as np
import MNN

def rss_mb():
    # VmHWM: the peak RSS of this process image (ru_maxrss would carry the parent's peak
    # across exec on Linux)
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")

path, shape, runs = sys.argv[1], [int(s) for s in sys.argv[2].split(",")], int(sys.argv[3])
before = rss_mb()
interpreter = MNN.Interpreter(path)
session = interpreter.createSession({"numThread": 1})
tensor = interpreter.getSessionInput(session)
batch = np.random.default_rng(0).random(shape, dtype=np.float32)
host = MNN.Tensor(shape, MNN.Halide_Type_Float, batch, MNN.Tensor_DimensionType_Caffe)
for _ in range(runs):
    tensor.copyFrom(host)
    interpreter.runSession(session)
    np.array(interpreter.getSessionOutput(session).getNumpyData())
print(json.dumps({"peak_rss_mb": rss_mb(), "baseline_rss_mb": before}))
"""


def mnn_peak_rss_mb(mnn_path: str | Path, input_shape: tuple[int, ...], runs: int = 20,
                    timeout_s: float = 120.0) -> dict[str, float]:
    """``{"peak_rss_mb", "baseline_rss_mb"}`` of a fresh process running the MNN model
    (baseline: after importing MNN and numpy, before loading the model)."""
    mnn_path = Path(mnn_path)
    if not mnn_path.is_file():
        raise FileNotFoundError(f"MNN model {mnn_path} does not exist; export it first")
    shape = ",".join(str(int(s)) for s in input_shape)
    done = subprocess.run([sys.executable, "-c", _SCRIPT, str(mnn_path), shape, str(runs)],
                          capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the MNN memory probe failed on {mnn_path.name}: "
                           f"{done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


__all__ = ["mnn_peak_rss_mb"]
