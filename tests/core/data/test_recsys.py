import gzip

import pytest

from dcpipelines.core.data import DataValidationError, read_click_log

HEADER = "label\tuser_id\titem_id\thistory\n"


def write(tmp_path, body, header=HEADER, gz=False):
    path = tmp_path / ("clicks.tsv.gz" if gz else "clicks.tsv")
    data = (header + body).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def test_reads_types_positions_and_histories(tmp_path):
    path = write(tmp_path, "1\t1\t10\t0\n0\t1\t11\t10\n1\t2\t10\t0\n1\t1\t12\t10,11\n", gz=True)
    table = read_click_log(path)
    assert table.dtypes["label"] == "int64" and table.dtypes["item_id"] == "int64"
    assert table["position"].tolist() == [0, 1, 0, 2]
    assert table["history"].tolist() == ["", "10", "", "10,11"]


@pytest.mark.parametrize(
    ("body", "line", "field"),
    [
        ("1\t1\t10\t0\n2\t1\t11\t0\n", 3, "label"),
        ("1\tabc\t10\t0\n", 2, "user_id"),
        ("1\t1\t-4\t0\n", 2, "item_id"),
        ("1\t1\t10\t0\n1\t1\t11\t10;x\n", 3, "history"),
    ],
)
def test_bad_values_name_line_and_field(tmp_path, body, line, field):
    path = write(tmp_path, body)
    with pytest.raises(DataValidationError) as err:
        read_click_log(path)
    assert (err.value.line, err.value.field) == (line, field)
    assert str(path) in str(err.value) and "Fix:" in str(err.value)


def test_missing_column_is_named(tmp_path):
    path = write(tmp_path, "1\t1\t10\n", header="label\tuser_id\titem_id\n")
    with pytest.raises(DataValidationError, match=r"missing column\(s\) \['history'\]"):
        read_click_log(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataValidationError, match="click log file not found"):
        read_click_log(tmp_path / "absent.tsv.gz")
