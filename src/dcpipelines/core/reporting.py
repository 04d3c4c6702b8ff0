"""The shared report every method pipeline ends with.

A :class:`Report` holds the flat numeric metrics the method pipeline measures, the paper's
claims next to what we measured, figures, small tables and curves. :func:`write_report` writes
it under one folder as ``metrics.json``, ``report.md``, ``plots/*.png``, ``tables/*.csv`` and
``history/*.csv``, atomically: the previous report stays in place until the new one is complete.

Curves (``Report.histories``): every per-epoch or per-round series is a table with a ``step``
column (the epoch or round) and one numeric column per series (a strategy, a model; empty where
it was not measured), built with :func:`history_table` or :func:`loss_history`. They are written
as ``history/<name>.csv`` in long form (``step``, ``series``, ``value``), which ``dvc plots``
draws, and the report dataset logs them to MLflow as metric histories ``<name>/<series>``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dcpipelines.core.atomic import write_folder_atomically

# Metrics measured on the wall clock (timings, throughputs, speed-ups) change from run to run;
# their names end in one of these, so that determinism checks can leave them out. The peak
# resident memory of a process (`_peak_rss_mb`) depends on the machine in the same way.
WALL_CLOCK_METRIC = re.compile(
    r".*(_ms|_s|_seconds|_per_s|_speedup|_overhead_ratio|_overhead_pct|_ms_per_[a-z]+|_peak_rss_mb"
    r"|_speedup_[a-z_]+|_mnn_vs_[a-z]+|_mape_pct|_mape_pct_[a-z]+|_efficiency_calibrated)$"
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
        """``holds``, ``does not hold`` or ``not tested``, as the claims table prints it."""
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
    histories: dict[str, pd.DataFrame] = field(default_factory=dict)  # name -> step x series

    def __post_init__(self) -> None:
        self.metrics = flat_numeric_metrics(self.metrics, self.name)
        for name, table in self.histories.items():
            if HISTORY_NAME.fullmatch(name) is None:
                raise ValueError(f"{self.name}: history {name!r}: use letters, digits, '_', '.', '-'")
            check_history(table, f"{self.name}: history {name!r}")


HISTORY_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


def check_history(table: pd.DataFrame, where: str = "history") -> None:
    """A curve table: an integer ``step`` column and numeric series columns."""
    if "step" not in table.columns:
        raise ValueError(f"{where}: needs a 'step' column (the epoch or round), got {list(table.columns)}")
    for column in table.columns:
        if not pd.api.types.is_numeric_dtype(table[column]):
            raise TypeError(f"{where}: column {column!r} must be numeric")
        if HISTORY_NAME.fullmatch(str(column)) is None:
            raise ValueError(f"{where}: column {column!r} must be letters, digits, '_', '.' or '-'")


def history_table(
    frame: pd.DataFrame, step: str, value: str, series: str | None = None
) -> pd.DataFrame:
    """A curve table from a long table: one row per ``step``, one column per ``series`` value
    (or the single column ``value``); rows where ``value`` is missing are left out."""
    frame = frame.dropna(subset=[value])
    if series is None:
        wide = frame[[step, value]].set_index(step)
    else:
        wide = frame.pivot_table(index=step, columns=series, values=value, aggfunc="mean", sort=False)
        wide.columns = [str(column) for column in wide.columns]
    wide = wide.sort_index()
    wide.index.name = "step"
    return wide.reset_index()


def loss_history(**series: list[float] | None) -> pd.DataFrame:
    """A curve table from per-epoch loss lists, one column per keyword (steps start at 1)."""
    columns = {name: pd.Series(values, dtype="float64") for name, values in series.items() if values}
    table = pd.DataFrame(columns)
    table.insert(0, "step", range(1, len(table) + 1))
    return table


def history_long(table: pd.DataFrame) -> pd.DataFrame:
    """A curve table in long form (``step``, ``series``, ``value``), measured points only."""
    long = table.melt(id_vars="step", var_name="series", value_name="value").dropna()
    return long.astype({"step": "int64", "value": "float64"}).reset_index(drop=True)


def flat_numeric_metrics(metrics: dict[str, Any], where: str = "report") -> dict[str, float]:
    """Check metrics are a flat mapping of names to finite numbers; ints stay ints."""
    clean: dict[str, float] = {}
    for key, raw in metrics.items():
        value: Any = raw
        if isinstance(value, bool) or not isinstance(value, int | float):
            item = getattr(value, "item", None)  # numpy and torch scalars
            if item is None:
                raise TypeError(
                    f"{where}: metric {key!r} must be a number, got {type(value).__name__}"
                )
            value = item()
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

    def write(staging: Path) -> None:
        (staging / "metrics.json").write_text(json.dumps(report.metrics, indent=2) + "\n")
        (staging / "report.md").write_text(render_markdown(report))
        for part in ("plots", "tables", "history"):  # always there: DVC declares them
            (staging / part).mkdir()
        for name, figure in report.figures.items():
            figure.savefig(staging / "plots" / f"{name}.png", dpi=110, bbox_inches="tight")
        for name, table in report.tables.items():
            table.to_csv(staging / "tables" / f"{name}.csv", index=False)
        for name, table in report.histories.items():
            history_long(table).to_csv(staging / "history" / f"{name}.csv", index=False)

    return write_folder_atomically(directory, write)


def read_metrics(directory: str | Path) -> dict[str, float]:
    """The metrics of a report written by :func:`write_report`."""
    return json.loads((Path(directory) / "metrics.json").read_text())
