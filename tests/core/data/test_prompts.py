import pytest

from dcpipelines.core.data import DataValidationError, read_prompts


def test_reads_prompts_and_adds_ids(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("Prompt\tCategory\tChallenge\tNote\na red circle\tAbstract\tBasic\t\n\"two\" cats\tAnimals\tCount\tx\n")
    table = read_prompts(path)
    assert table.columns.tolist() == ["prompt_id", "prompt", "category", "challenge", "note"]
    assert table["prompt"].tolist() == ["a red circle", '"two" cats']
    assert table["prompt_id"].tolist() == [0, 1]


def test_note_is_optional(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("Prompt\tCategory\tChallenge\nsky\tScenery\tBasic\n")
    assert read_prompts(path)["note"].tolist() == [""]


def test_missing_column_and_empty_prompt(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("Prompt\tCategory\nsky\tScenery\n")
    with pytest.raises(DataValidationError, match="Challenge"):
        read_prompts(path)
    path.write_text("Prompt\tCategory\tChallenge\nsky\tScenery\tBasic\n \tScenery\tBasic\n")
    with pytest.raises(DataValidationError) as err:
        read_prompts(path)
    assert (err.value.line, err.value.field) == (3, "Prompt")
