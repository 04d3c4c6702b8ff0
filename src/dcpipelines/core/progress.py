"""Progress bars for training loops and simulations, quiet in CI and in logs.

    for epoch in (bar := progress(range(epochs), desc="scorer", unit="epoch")):
        ...
        bar.set_postfix(loss=f"{loss:.4f}")

A bar shows on an interactive terminal only: it is off when ``CI`` is set (``CI=true``, as CI
services set it), when ``DCPIPELINES_PROGRESS=0``, and when the output is not a terminal (a log
file, a captured subprocess). ``DCPIPELINES_PROGRESS=1`` forces it on.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def bars_disabled() -> bool | None:
    """True: off; False: on; None: on when the output is a terminal (tqdm decides)."""
    forced = os.environ.get("DCPIPELINES_PROGRESS")
    if forced is not None:
        return forced.strip().lower() in ("0", "false", "no", "")
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false"):
        return True
    return None


def bars_shown() -> bool:
    """Whether a bar shows now (for libraries with a bar of their own, e.g. Lightning)."""
    disabled = bars_disabled()
    return sys.stderr.isatty() if disabled is None else not disabled


def progress(iterable: Iterable[T], *, desc: str, unit: str = "it", total: int | None = None,
             **options: Any) -> Any:
    """``iterable`` wrapped in a tqdm bar (see the module docstring for when it shows)."""
    from tqdm import tqdm

    settings = {"disable": bars_disabled(), "mininterval": 1.0, "leave": False,
                "dynamic_ncols": True, **options}
    return tqdm(iterable, desc=desc, unit=unit, total=total, **settings)
