"""The demo runner: stages start once what they read is done, at most ``jobs`` at a time, and a
failure stops new stages while keeping what finished."""

import json
import sys
from pathlib import Path

import pytest
import yaml

from dcpipelines.demo import main, read_stages, run_stages, select

PY = sys.executable


def _write(tmp_path: Path, stages: dict) -> Path:
    path = tmp_path / "dvc.yaml"
    path.write_text(yaml.safe_dump({"stages": stages}, sort_keys=False))
    return path


def _stage(script: str, deps=(), outs=()) -> dict:
    return {"cmd": f"{PY} -c \"{script}\"", "deps": list(deps), "outs": list(outs)}


def _appender(log: Path, name: str, sleep: float = 0.0) -> str:
    # append "start <name>" and "end <name>" to a shared log, with a pause between
    return (f"import time; f=open(r'{log}','a'); f.write('start {name}\\n'); f.flush(); "
            f"time.sleep({sleep}); f.write('end {name}\\n'); f.close()")


def test_needs_come_from_outputs_the_stage_reads(tmp_path):
    path = _write(tmp_path, {
        "ingest": _stage("pass", outs=["data/03_primary/a.parquet"]),
        "one": _stage("pass", deps=["data/03_primary/a.parquet", "src/x.py"],
                      outs=["data/06_models/device_models/one"]),
        "two": _stage("pass", deps=["data/03_primary/a.parquet"]),
        "last": _stage("pass", deps=["data/06_models/device_models/one"]),
    })
    stages = read_stages(path)
    assert list(stages) == ["ingest", "one", "two", "last"]
    assert stages["ingest"].needs == set()
    assert stages["one"].needs == {"ingest"} and stages["two"].needs == {"ingest"}
    assert stages["last"].needs == {"one"}
    assert set(select(stages, ["last"])) == {"ingest", "one", "last"}
    with pytest.raises(SystemExit, match="no stage named nope"):
        select(stages, ["nope"])


def test_stages_run_in_order_and_side_by_side(tmp_path):
    log = tmp_path / "order.txt"
    path = _write(tmp_path, {
        "first": _stage(_appender(log, "first"), outs=["a"]),
        "left": _stage(_appender(log, "left", 1.0), deps=["a"], outs=["b"]),
        "right": _stage(_appender(log, "right", 1.0), deps=["a"], outs=["c"]),
        "after": _stage(_appender(log, "after"), deps=["b", "c"]),
    })
    said: list[str] = []
    failed = run_stages(read_stages(path), jobs=2, log_dir=tmp_path / "logs", say=said.append)
    assert failed == []
    events = log.read_text().split("\n")[:-1]
    assert events[:2] == ["start first", "end first"]
    middle = events[2:6]
    # both middle stages start before either ends: they ran side by side
    assert sorted(middle[:2]) == ["start left", "start right"]
    assert events[6:] == ["start after", "end after"]
    assert sum("done in" in line for line in said) == 4


def test_one_job_runs_one_stage_at_a_time(tmp_path):
    log = tmp_path / "order.txt"
    path = _write(tmp_path, {
        "a": _stage(_appender(log, "a", 0.3)),
        "b": _stage(_appender(log, "b", 0.3)),
    })
    assert run_stages(read_stages(path), jobs=1, log_dir=tmp_path / "logs", say=lambda _: None) == []
    assert log.read_text().split("\n")[:-1] == ["start a", "end a", "start b", "end b"]


def test_a_failure_stops_new_stages_and_shows_the_log(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the stage logs go under logs/demo/
    log = tmp_path / "order.txt"
    path = _write(tmp_path, {
        "first": _stage(_appender(log, "first"), outs=["a"]),
        "broken": _stage("import sys; print('bad input in some.csv'); sys.exit(3)",
                         deps=["a"], outs=["b"]),
        "after": _stage(_appender(log, "after"), deps=["b"]),
    })
    code = main(["--dvc-yaml", str(path), "--jobs", "2", "--no-lock"])
    out = capsys.readouterr().out
    assert code == 1
    assert "broken: FAILED (exit 3)" in out and "bad input in some.csv" in out
    assert log.read_text().split("\n")[:-1] == ["start first", "end first"]  # "after" never ran


def test_jobs_must_be_positive(tmp_path):
    with pytest.raises(SystemExit):
        main(["--dvc-yaml", str(_write(tmp_path, {"a": _stage("pass")})), "--jobs", "0"])


def test_stages_others_wait_for_and_long_ones_start_first(tmp_path):
    log = tmp_path / "order.txt"
    logs = tmp_path / "logs"
    logs.mkdir()
    # "slow" took longest last time; "base" is what "after" waits for
    (logs / "durations.json").write_text('{"slow": 600, "quick": 5, "base": 1}')
    path = _write(tmp_path, {
        "quick": _stage(_appender(log, "quick")),
        "slow": _stage(_appender(log, "slow")),
        "base": _stage(_appender(log, "base"), outs=["b"]),
        "after": _stage(_appender(log, "after"), deps=["b"]),
    })
    assert run_stages(read_stages(path), jobs=1, log_dir=logs, say=lambda _: None) == []
    starts = [line.split()[1] for line in log.read_text().split("\n") if line.startswith("start")]
    assert starts == ["base", "slow", "quick", "after"]
    assert set(json.loads((logs / "durations.json").read_text())) == {"slow", "quick", "base", "after"}
