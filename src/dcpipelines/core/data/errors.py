"""One error type for bad input, so every reader reports problems the same way."""

from __future__ import annotations

from pathlib import Path

from dcpipelines.core.errors import UserFacingError


class DataValidationError(UserFacingError, ValueError):
    """Bad input data: says which file, which line or field, what was expected, and the fix."""

    def __init__(
        self,
        source: str | Path,
        problem: str,
        *,
        line: int | None = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.source = str(source)
        self.line = line
        self.field = field
        self.problem = problem
        self.fix = fix
        where = self.source
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field '{field}'"
        message = f"{where}: {problem}"
        if fix:
            message += f". Fix: {fix}"
        super().__init__(message)


def require_file(path: str | Path, what: str) -> Path:
    """Return ``path`` as a Path, or raise a clear error when the file is missing."""
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(
            path,
            f"{what} file not found",
            fix="put the file there or point the catalog entry at it (conf/local/catalog.yml)",
        )
    return path
