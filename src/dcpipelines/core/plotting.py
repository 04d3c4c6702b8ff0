"""One plot style for every report: same sizes, fonts, grid and colours in every pipeline.

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot state), so nodes stay pure
and nothing depends on a display.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")

_STYLE = {
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 9,
    "axes.titlesize": 10,
    "legend.fontsize": 8,
    "legend.frameon": False,
}


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float | None = None,
               height: float = 3.6, title: str | None = None) -> tuple[Figure, Any]:
    """A figure in the project style and its axes (one Axes, or an array of them)."""
    import matplotlib

    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(width or 4.8 * ncols, height * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=True)
    for ax in getattr(axes, "flat", [axes]):
        ax.grid(True, alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    if title:
        fig.suptitle(title)
    return fig, axes


def bars_with_intervals(ax: Any, labels: Sequence[str], means: Sequence[float],
                        lows: Sequence[float], highs: Sequence[float], *,
                        ylabel: str = "") -> None:
    """Bars of means with their intervals as error bars (the report's standard comparison)."""
    lower = [m - lo for m, lo in zip(means, lows, strict=True)]
    upper = [hi - m for m, hi in zip(means, highs, strict=True)]
    ax.bar(range(len(labels)), means, yerr=[lower, upper], capsize=3,
           color=[PALETTE[i % len(PALETTE)] for i in range(len(labels))])
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
