"""The labelled dialogue reader: the CPED format read back, and bad files named precisely."""

import gzip

import pytest

from dcpipelines.core.data import DataValidationError, read_labelled_dialogue

HEADER = ("TV_ID,Dialogue_ID,Utterance_ID,Speaker,Gender,Age,Sentiment,Emotion,DA,Utterance")
ROWS = [
    "27,27_000,27_000_000,林宛瑜,female,young,neutral,neutral,statement,好了没事了",
    "27,27_000,27_000_001,陆展博,male,young,negative,worried,statement,没关系",
    "27,27_001,27_001_000,林宛瑜,female,young,positive,happy,thanking,\"谢谢, 你哦\"",
]


def write(path, lines, *, bom=True, gz=False):
    text = ("\ufeff" if bom else "") + "\n".join(lines) + "\n"
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize(("bom", "gz"), [(True, False), (False, False), (True, True)])
def test_reads_every_row_in_order_with_snake_case_columns(tmp_path, bom, gz):
    path = write(tmp_path / ("t.csv.gz" if gz else "t.csv"), [HEADER, *ROWS], bom=bom, gz=gz)
    table = read_labelled_dialogue(path)
    assert table["position"].tolist() == [0, 1, 2]
    assert table["speaker"].tolist() == ["林宛瑜", "陆展博", "林宛瑜"]
    assert table["sentiment"].tolist() == ["neutral", "negative", "positive"]
    assert table["utterance"].iloc[2] == "谢谢, 你哦"
    assert table["dialogue_id"].tolist() == ["27_000", "27_000", "27_001"]
    # optional CPED columns missing from this file are kept empty, present ones kept
    assert table["gender"].tolist() == ["female", "male", "female"]
    assert table["face_position_lu"].tolist() == ["", "", ""]


def test_unknown_sentiment_names_file_line_field_and_fix(tmp_path):
    bad = ROWS[1].replace("negative", "angry")
    path = write(tmp_path / "t.csv", [HEADER, ROWS[0], bad])
    with pytest.raises(DataValidationError) as err:
        read_labelled_dialogue(path)
    message = str(err.value)
    assert "t.csv" in message and "line 3" in message and "'Sentiment'" in message
    assert "'angry'" in message and "negative, neutral, positive" in message


def test_missing_required_column_is_named(tmp_path):
    path = write(tmp_path / "t.csv", [HEADER.replace("Sentiment", "Mood"), *ROWS])
    with pytest.raises(DataValidationError, match=r"line 1: missing column\(s\) \['Sentiment'\]"):
        read_labelled_dialogue(path)


def test_empty_utterance_and_empty_speaker_are_errors(tmp_path):
    no_text = ROWS[2].rsplit(",", 2)[0] + ",\"\""
    path = write(tmp_path / "t.csv", [HEADER, ROWS[0], ROWS[1], no_text])
    with pytest.raises(DataValidationError, match=r"line 4, field 'Utterance': empty Utterance"):
        read_labelled_dialogue(path)
    no_speaker = ROWS[0].replace("林宛瑜", " ")
    path = write(tmp_path / "u.csv", [HEADER, no_speaker])
    with pytest.raises(DataValidationError, match=r"line 2, field 'Speaker'"):
        read_labelled_dialogue(path)


def test_ragged_row_and_wrong_encoding_and_missing_file(tmp_path):
    path = write(tmp_path / "t.csv", [HEADER, ROWS[0] + ",extra,fields"])
    with pytest.raises(DataValidationError, match=r"line 2: expected 10 comma-separated fields, found 12"):
        read_labelled_dialogue(path)
    latin = tmp_path / "l.csv"
    latin.write_bytes((HEADER + "\n" + ROWS[0] + "\n").encode("gb18030"))
    with pytest.raises(DataValidationError, match="not valid UTF-8"):
        read_labelled_dialogue(latin)
    with pytest.raises(DataValidationError, match="file not found"):
        read_labelled_dialogue(tmp_path / "none.csv")
