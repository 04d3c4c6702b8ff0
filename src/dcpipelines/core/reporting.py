"""The shared report every method pipeline ends with.

A :class:`Report` holds the flat numeric metrics named in the method's issue, the paper's
claims next to what we measured, figures and small tables. :func:`write_report` writes it
under one folder as ``metrics.json``, ``report.md``, ``plots/*.png`` and ``tables/*.csv``,
atomically: the previous report stays in place until the new one is complete.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

# Metrics measured on the wall clock (timings, throughputs, speed-ups) change from run to run;
# their names end in one of these, so that determinism checks can leave them out.
WALL_CLOCK_METRIC = re.compile(
    r".*(_ms|_s|_seconds|_per_s|_speedup|_overhead_ratio|_overhead_pct|_ms_per_[a-z]+)$"
)


def is_wall_clock_metric(name: str) -> bool:
    """True for metrics whose value depends on the machine's speed, not only on the seed."""
    return WALL_CLOCK_METRIC.fullmatch(name) is not None


@dataclass(frozen=True)
class Claim:
    """One line of the claims table: the paper's claim, our figure, and whether it holds."""

    claim: str
    measured: str
    holds: bool | None  # None: not testable at our scale, said so in ``measured``

    @property
    def verdict(self) -> str:
        return {True: "holds", False: "does not hold", None: "not tested"}[self.holds]


@dataclass
class Report:
    """Everything a pipeline reports about one run."""

    name: str
    title: str
    metrics: dict[str, float]
    claims: list[Claim] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)  # name -> matplotlib Figure
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: str = ""

    def __post_init__(self) -> None:
        self.metrics = flat_numeric_metrics(self.metrics, self.name)


def flat_numeric_metrics(metrics: dict[str, Any], where: str = "report") -> dict[str, float]:
    """Check metrics are a flat mapping of names to finite numbers; ints stay ints."""
    clean: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            try:
                value = value.item()  # numpy and torch scalars
            except AttributeError:
                raise TypeError(
                    f"{where}: metric {key!r} must be a number, got {type(value).__name__}"
                ) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{where}: metric {key!r} is {value}; metrics.json takes finite numbers")
        clean[str(key)] = value
    return clean


def _format(value: float) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def render_markdown(report: Report) -> str:
    """The report as Markdown: claims table, metrics, tables, plots and notes."""
    lines = [f"# {report.title}", ""]
    if report.claims:
        lines += ["| paper's claim | measured here | verdict |", "| --- | --- | --- |"]
        lines += [f"| {c.claim} | {c.measured} | {c.verdict} |" for c in report.claims]
        lines.append("")
    lines += ["## Metrics", "", "| metric | value |", "| --- | --- |"]
    lines += [f"| `{k}` | {_format(v)} |" for k, v in report.metrics.items()]
    lines.append("")
    for name, table in report.tables.items():
        lines += [f"## {name}", "", table.to_markdown(index=False), ""]
    for name in report.figures:
        lines += [f"![{name}](plots/{name}.png)", ""]
    if report.notes:
        lines += [report.notes.strip(), ""]
    return "\n".join(lines)


def write_report(report: Report, directory: str | Path) -> Path:
    """Write the report into ``directory``, replacing the previous one only once complete."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        mask = os.umask(0)
        os.umask(mask)
        staging.chmod(0o777 & ~mask)  # mkdtemp makes the folder private (0700)
        (staging / "metrics.json").write_text(json.dumps(report.metrics, indent=2) + "\n")
        (staging / "report.md").write_text(render_markdown(report))
        if report.figures:
            (staging / "plots").mkdir()
            for name, figure in report.figures.items():
                figure.savefig(staging / "plots" / f"{name}.png", dpi=110, bbox_inches="tight")
        if report.tables:
            (staging / "tables").mkdir()
            for name, table in report.tables.items():
                table.to_csv(staging / "tables" / f"{name}.csv", index=False)
        _swap_into_place(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def _swap_into_place(staging: Path, directory: Path) -> None:
    retired = None
    if directory.exists():
        retired = directory.with_name(f".{directory.name}-retired")
        shutil.rmtree(retired, ignore_errors=True)
        directory.rename(retired)
    staging.rename(directory)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


def read_metrics(directory: str | Path) -> dict[str, float]:
    """The metrics of a report written by :func:`write_report`."""
    return json.loads((Path(directory) / "metrics.json").read_text())
