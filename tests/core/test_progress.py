"""Progress bars show on a terminal and stay quiet in CI."""

from __future__ import annotations

import io

import pytest

from dcpipelines.core.progress import bars_disabled, progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("env", "expected"), [
    ({}, None), ({"CI": "true"}, True), ({"CI": "false"}, None),
    ({"CI": "true", "DCPIPELINES_PROGRESS": "1"}, False), ({"DCPIPELINES_PROGRESS": "0"}, True),
])
def test_when_bars_show(env, expected, monkeypatch):
    for name in ("CI", "DCPIPELINES_PROGRESS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert bars_disabled() is expected


@pytest.mark.parametrize("ci", [False, True])
def test_bar_shows_the_current_metric_on_a_terminal_only_outside_ci(ci, monkeypatch):
    monkeypatch.delenv("DCPIPELINES_PROGRESS", raising=False)
    monkeypatch.setenv("CI", "true" if ci else "")
    terminal = _Terminal()
    bar = progress(range(3), desc="demo rounds", unit="round", file=terminal, mininterval=0)
    for step in bar:
        bar.set_postfix(metric=f"{step / 10:.4f}")
    bar.close()
    shown = terminal.getvalue()
    assert ("demo rounds" in shown and "metric=0.2000" in shown) is not ci
    assert (shown == "") is ci
