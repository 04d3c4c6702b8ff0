"""Reader for speaker-tagged dialogue scripts.

Format (tiny-shakespeare, the CPED rewrite, or any script a user adds)::

    SPEAKER NAME:
    first line of the turn
    more lines of the same turn

    NEXT SPEAKER:
    ...

One blank line ends a turn; two or more blank lines end a dialogue. A speaker line followed
directly by a blank line (a name with no words, as stage artefacts leave) is skipped. The reader
streams line by line, so a script of any size can be read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dcpipelines.core.data.errors import DataValidationError, require_file

SCRIPT_COLUMNS = ["source", "language", "dialogue_id", "turn_id", "speaker", "text", "line"]
MAX_SPEAKER_CHARS = 80


@dataclass(frozen=True)
class Turn:
    """One spoken turn: its dialogue, speaker, text and 1-based line in the source file."""
    dialogue_id: int
    speaker: str
    text: str
    line: int


def _speaker_of(line: str) -> str | None:
    """The speaker name if ``line`` is a speaker line (``NAME:``), else None."""
    stripped = line.strip()
    if not stripped.endswith(":") or len(stripped) > MAX_SPEAKER_CHARS:
        return None
    name = stripped[:-1].strip()
    return name or None


def _decoded_lines(path: Path) -> Iterator[str]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                raise DataValidationError(
                    path, f"not valid UTF-8 ({err.reason})", line=number,
                    fix="re-save the script as UTF-8",
                ) from err


def parse_script(lines: Iterable[str], source: str) -> Iterator[Turn]:
    """Yield the turns of a script given as lines; ``source`` names it in error messages."""
    dialogue_id, blank_run = 0, 0
    speaker: str | None = None
    speaker_line = 0
    body: list[str] = []
    seen_turn = False

    def flush() -> Turn | None:
        if speaker is not None and body:
            return Turn(dialogue_id, speaker, " ".join(s.strip() for s in body), speaker_line)
        return None

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            turn = flush()
            if turn is not None:
                yield turn
            speaker, body = None, []
            blank_run += 1
            continue
        if blank_run >= 2 and seen_turn:
            dialogue_id += 1
        blank_run = 0
        if speaker is None:
            name = _speaker_of(line)
            if name is None:
                raise DataValidationError(
                    source,
                    f"expected a speaker line such as 'NAME:' to open a turn, got {line.strip()[:60]!r}",
                    line=number,
                    fix="start every block with the speaker's name and a colon, "
                    "and separate turns by one blank line",
                )
            speaker, speaker_line, seen_turn = name, number, True
        else:
            body.append(line)
    turn = flush()
    if turn is not None:
        yield turn


def _language_of(texts: pd.Series) -> str:
    """'zh' when most characters are CJK ideographs, else 'en'."""
    sample = "".join(texts.head(500))
    if not sample:
        return "en"
    cjk = sum(1 for ch in sample if "\u4e00" <= ch <= "\u9fff")
    return "zh" if cjk / len(sample) > 0.3 else "en"


def read_script(path: str | Path, source: str | None = None) -> pd.DataFrame:
    """Read a script file into a table of turns (columns ``SCRIPT_COLUMNS``)."""
    path = require_file(path, "script")
    name = source or path.stem
    turns = list(parse_script(_decoded_lines(path), source=str(path)))
    if not turns:
        raise DataValidationError(path, "no dialogue turns found", fix="check the file is a SPEAKER: script")
    frame = pd.DataFrame(
        {
            "source": name,
            "dialogue_id": [t.dialogue_id for t in turns],
            "turn_id": range(len(turns)),
            "speaker": [t.speaker for t in turns],
            "text": [t.text for t in turns],
            "line": [t.line for t in turns],
        }
    )
    frame.insert(1, "language", _language_of(frame["text"]))
    return frame.astype(
        {"dialogue_id": "int64", "turn_id": "int64", "line": "int64"}
    )[SCRIPT_COLUMNS]
