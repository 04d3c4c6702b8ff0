"""Errors meant for the user print as one short block, the traceback only on request.

A :class:`~dcpipelines.core.errors.UserFacingError` (bad input data, a missing file) already
names the file, the field and the fix; Kedro would print it at the end of a long traceback of
its own internals. :func:`install` wraps ``sys.excepthook`` so that such an error, also when
Kedro wrapped it in a ``DatasetError``, prints as::

    Error: bad input data
      file:    data/01_raw/prompts/PartiPrompts.tsv, line 2
      field:   Prompt
      problem: empty prompt
      fix:     fill in or delete that row
    (full traceback: DCPIPELINES_DEBUG=1 kedro run ...)

Every other exception, and every exception when ``DCPIPELINES_DEBUG`` is set to anything but
``0``, goes to the previous hook (Kedro's rich traceback).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from dcpipelines.core.errors import UserFacingError

DEBUG_VARIABLE = "DCPIPELINES_DEBUG"
ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], Any]


def user_error(error: BaseException) -> UserFacingError | None:
    """The user-facing error behind ``error`` (itself, its cause or its context), if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, UserFacingError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def format_user_error(error: UserFacingError) -> str:
    """One short block: what went wrong, where (file, line, field) and the fix."""
    source = getattr(error, "source", None)
    if source is None:
        return f"Error: {error}\n(full traceback: {DEBUG_VARIABLE}=1 kedro run ...)\n"
    line = getattr(error, "line", None)
    rows = [
        ("file", _relative(source) + (f", line {line}" if line is not None else "")),
        ("field", getattr(error, "field", None)),
        ("problem", getattr(error, "problem", None)),
        ("fix", getattr(error, "fix", None)),
    ]
    body = "".join(f"  {key + ':':<9}{value}\n" for key, value in rows if value)
    return f"Error: bad input data\n{body}(full traceback: {DEBUG_VARIABLE}=1 kedro run ...)\n"


def _relative(source: str) -> str:
    """``source`` relative to the working directory when it lies below it."""
    path = Path(source)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve())) if path.is_absolute() else source
    except ValueError:
        return source


def debugging() -> bool:
    """True when the user asked for full tracebacks (the debug variable is set)."""
    return os.environ.get(DEBUG_VARIABLE, "0") not in ("", "0", "false")


def short_excepthook(previous: ExceptHook) -> ExceptHook:
    """An excepthook that prints user-facing errors briefly and hands the rest to ``previous``."""

    def hook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> Any:
        found = None if debugging() else user_error(error)
        if found is None:
            return previous(kind, error, trace)
        sys.stderr.write(format_user_error(found))
        sys.stderr.flush()
        return None

    hook.short_errors = True  # type: ignore[attr-defined]
    return hook


def install() -> None:
    """Wrap the current ``sys.excepthook`` (once)."""
    if not getattr(sys.excepthook, "short_errors", False):
        sys.excepthook = short_excepthook(sys.excepthook)
