"""Errors meant for the user print as one short block; the traceback only on request."""

from __future__ import annotations

import pytest
from kedro.io import DatasetError

from conftest import copy_project, kedro
from dcpipelines.core.data.errors import DataValidationError
from dcpipelines.short_errors import format_user_error, short_excepthook, user_error


def _wrapped() -> DatasetError:
    """A validation error as Kedro hands it up: inside a DatasetError."""
    try:
        try:
            raise DataValidationError("data/x.tsv", "empty prompt", line=3, field="Prompt",
                                      fix="fill in or delete that row")
        except DataValidationError as error:
            raise DatasetError("raw_x: Failed while loading data") from error
    except DatasetError as outer:
        return outer


def test_the_user_error_is_found_behind_kedros_wrapper():
    assert isinstance(user_error(_wrapped()), DataValidationError)
    assert user_error(RuntimeError("a bug")) is None


def test_block_names_file_line_field_problem_and_fix():
    block = format_user_error(user_error(_wrapped()))
    assert block.splitlines() == [
        "Error: bad input data",
        "  file:    data/x.tsv, line 3",
        "  field:   Prompt",
        "  problem: empty prompt",
        "  fix:     fill in or delete that row",
        "(full traceback: DCPIPELINES_DEBUG=1 kedro run ...)",
    ]


@pytest.mark.parametrize("debug", [None, "1"])
def test_hook_prints_the_block_or_hands_over_in_debug_mode(debug, monkeypatch, capsys):
    if debug:
        monkeypatch.setenv("DCPIPELINES_DEBUG", debug)
    else:
        monkeypatch.delenv("DCPIPELINES_DEBUG", raising=False)
    handed_over = []
    hook = short_excepthook(lambda kind, error, trace: handed_over.append(error))
    error = _wrapped()
    hook(type(error), error, error.__traceback__)
    hook(RuntimeError, RuntimeError("a bug"), None)  # not a user error: always handed over
    printed = capsys.readouterr().err
    if debug:
        assert printed == "" and len(handed_over) == 2
    else:
        assert printed.startswith("Error: bad input data") and len(handed_over) == 1


@pytest.mark.slow
def test_a_run_on_a_corrupted_raw_file_prints_one_short_block(tmp_path):
    project = copy_project(tmp_path / "project")
    prompts = project / "data" / "01_raw" / "prompts" / "PartiPrompts.tsv"
    lines = prompts.read_text().splitlines()
    prompts.write_text("\n".join([lines[0], "\tAbstract\tBasic\t", *lines[2:]]) + "\n")
    result = kedro(project, "run", "--pipelines", "ingest", "--env", "test",
                   "--nodes", "ingest.tidy_prompts", timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output and "DatasetError" not in output, output[-3000:]
    block = result.stderr[result.stderr.index("Error: bad input data"):]
    assert block.splitlines()[:5] == [
        "Error: bad input data",
        "  file:    data/01_raw/prompts/PartiPrompts.tsv, line 2",
        "  field:   Prompt",
        "  problem: empty prompt",
        "  fix:     fill in or delete that row",
    ]
