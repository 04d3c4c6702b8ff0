"""Atomic writes: a file or a folder is written under a temporary name next to its place and
renamed into place only once complete, so a run that fails mid-write leaves the previous
version untouched and no partial output. The one implementation the catalog's datasets and
:mod:`dcpipelines.core.reporting` share."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_file_atomically(path: str | Path, writer: Callable[[str], None]) -> Path:
    """Call ``writer(staging_path)``, then rename the staging file to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.close(handle)
    try:
        writer(staging)
        os.chmod(staging, 0o666 & ~_umask())  # mkstemp makes files private (0600)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return path


def write_folder_atomically(directory: str | Path, writer: Callable[[Path], None]) -> Path:
    """Call ``writer(staging_folder)``, then swap the staging folder in for ``directory``."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        staging.chmod(0o777 & ~_umask())  # mkdtemp makes the folder private (0700)
        writer(staging)
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
