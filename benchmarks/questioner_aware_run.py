"""Wall time and peak memory of the default ``mqdialog`` + ``questioner_aware`` run.

Runs ``kedro run --pipelines mqdialog,questioner_aware`` (base config) in a subprocess, twice:
first with the embedding and base-decoder caches removed (cold), then again (warm: the caches
are reused). Prints wall seconds and the child's peak resident memory. Run from the project
root: ``.venv/bin/python benchmarks/questioner_aware_run.py``.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHES = [
    ROOT / "data" / "05_model_input" / "questioner_aware" / "query_embeddings.parquet",
    ROOT / "data" / "06_models" / "questioner_aware" / "base_decoder.pt",
]


def run_once(label: str) -> None:
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}
    kedro = Path(sys.executable).parent / "kedro"
    started = time.perf_counter()
    subprocess.run([str(kedro), "run", "--pipelines", "mqdialog,questioner_aware"], cwd=ROOT,
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{label}: {seconds:.1f} s wall, peak RSS of the largest child so far {peak_mib:.0f} MiB")


if __name__ == "__main__":
    for path in CACHES:
        if path.exists():
            shutil.move(path, path.with_suffix(path.suffix + ".bak"))
    try:
        run_once("cold (embeds queries, pre-trains the base decoder)")
        run_once("warm (caches reused)")
    finally:
        for path in CACHES:
            backup = path.with_suffix(path.suffix + ".bak")
            if backup.exists():
                backup.unlink()
