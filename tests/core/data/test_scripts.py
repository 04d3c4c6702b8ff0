from pathlib import Path

import pytest

from dcpipelines.core.data import DataValidationError, read_script

GOOD = """First Citizen:
Before we proceed any further,
hear me speak.

All:
Speak, speak.

TITUS:

DUKE OF YORK:
Good morrow.


Second Speaker:
A new dialogue starts here.
"""


def write(tmp_path: Path, text: str, name: str = "script.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_turns_speakers_dialogues_and_lines(tmp_path):
    table = read_script(write(tmp_path, GOOD))
    assert table["speaker"].tolist() == ["First Citizen", "All", "DUKE OF YORK", "Second Speaker"]
    assert table["text"].iloc[0] == "Before we proceed any further, hear me speak."
    assert table["dialogue_id"].tolist() == [0, 0, 0, 1]
    assert table["line"].tolist() == [1, 5, 10, 14]
    assert table["turn_id"].tolist() == [0, 1, 2, 3]
    assert set(table["language"]) == {"en"}
    assert set(table["source"]) == {"script"}


def test_detects_chinese(tmp_path):
    table = read_script(write(tmp_path, "林宛瑜:\n好了没事了\n\n陆展博:\n没关系\n"))
    assert set(table["language"]) == {"zh"}
    assert table["speaker"].tolist() == ["林宛瑜", "陆展博"]


def test_block_without_speaker_line_names_file_and_line(tmp_path):
    path = write(tmp_path, "ALICE:\nhello\n\nthis block has no speaker\nBOB:\nhi\n")
    with pytest.raises(DataValidationError) as err:
        read_script(path)
    message = str(err.value)
    assert str(path) in message and "line 4" in message and "speaker line" in message
    assert err.value.line == 4


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DataValidationError, match="script file not found"):
        read_script(tmp_path / "nope.txt")


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ALICE:\nhello\n\nBOB:\n\xff\xfe broken\n")
    with pytest.raises(DataValidationError, match="line 5.*UTF-8"):
        read_script(path)


def test_empty_script_is_an_error(tmp_path):
    with pytest.raises(DataValidationError, match="no dialogue turns"):
        read_script(write(tmp_path, "\n\n"))
