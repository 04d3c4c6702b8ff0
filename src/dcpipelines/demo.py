"""Run every pipeline on the shipped data, several at a time: what ``make demo`` calls.

    python -m dcpipelines.demo                  # every stage of dvc.yaml, 2 at a time
    python -m dcpipelines.demo --jobs 4         # more at a time on a bigger machine
    python -m dcpipelines.demo --only fedsubavg route_t2i
    python -m dcpipelines.demo --env test       # the tiny test configuration

Each stage of ``dvc.yaml`` is one ``kedro run --pipelines NAME`` process, started once every
stage whose outputs it reads has finished (``ingest`` first, ``on_device`` after every pipeline
that hands it models). Among the stages ready to start, those others wait for go first, then
the ones that took longest in the last run (``logs/demo/durations.json``), so the long ones do
not start last. Every pipeline process uses one torch thread (``settings.py``) and is
seeded from the configuration alone, so running stages side by side gives the same figures as
running them one after the other; it only takes less time on a machine with several cores.

Each stage's output goes to ``logs/demo/<stage>.log``; the console shows one line per start and
end. When a stage fails, no new stage starts, the running ones finish, the tail of the failed
stage's log is printed, and the exit status is 1: reports already written stay as they were.
The first stage runs alone, since it creates the MLflow store the others then write to.

After a full run of the base configuration, ``dvc commit`` records what was run in
``dvc.lock`` (``--no-lock`` skips it), so a later ``dvc repro`` re-runs only what changed.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

LOG_DIR = Path("logs") / "demo"
DURATIONS = "durations.json"  # seconds each stage took last time, to start the long ones first


@dataclass
class Stage:
    """One ``dvc.yaml`` stage: its command, and the stages whose outputs it reads."""

    name: str
    cmd: str
    needs: set[str] = field(default_factory=set)


def read_stages(dvc_yaml: Path) -> dict[str, Stage]:
    """The stages of ``dvc_yaml`` in file order, each with the stages it must wait for."""
    stages = (yaml.safe_load(dvc_yaml.read_text()) or {}).get("stages", {})
    produced: dict[str, str] = {}
    for name, stage in stages.items():
        for out in stage.get("outs", []) + stage.get("metrics", []):
            produced[next(iter(out)) if isinstance(out, dict) else str(out)] = name
    result: dict[str, Stage] = {}
    for name, stage in stages.items():
        needs = {produced[dep] for dep in stage.get("deps", []) if dep in produced} - {name}
        result[name] = Stage(name, str(stage["cmd"]), needs)
    return result


def select(stages: dict[str, Stage], only: list[str] | None) -> dict[str, Stage]:
    """The stages named in ``only`` and every stage they wait for (all stages when None)."""
    if not only:
        return stages
    unknown = sorted(set(only) - set(stages))
    if unknown:
        raise SystemExit(f"dvc.yaml: no stage named {', '.join(unknown)}; "
                         f"the stages are: {', '.join(stages)}")
    wanted: set[str] = set()
    todo = list(only)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo.extend(stages[name].needs)
    return {name: stage for name, stage in stages.items() if name in wanted}


def _dependents(stages: dict[str, Stage]) -> dict[str, int]:
    """How many stages wait, directly or not, for each stage."""
    count = dict.fromkeys(stages, 0)
    for name in stages:
        todo, seen = list(stages[name].needs), set()
        while todo:
            need = todo.pop()
            if need in stages and need not in seen:
                seen.add(need)
                count[need] += 1
                todo.extend(stages[need].needs)
    return count


def _priority(stages: dict[str, Stage], log_dir: Path) -> dict[str, tuple[int, float, int]]:
    """Start order among ready stages: those others wait for first, then the ones that took
    longest last time (``durations.json``), then file order."""
    last = _read_durations(log_dir)
    waiting = _dependents(stages)
    return {name: (-waiting[name], -float(last.get(name, 0.0)), index)
            for index, name in enumerate(stages)}


def _read_durations(log_dir: Path) -> dict[str, float]:
    """Seconds each stage took last time (empty when unknown or unreadable)."""
    path = log_dir / DURATIONS
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        return {}


def _record_duration(log_dir: Path, name: str, seconds: float) -> None:
    durations = _read_durations(log_dir)
    durations[name] = round(seconds, 1)
    (log_dir / DURATIONS).write_text(json.dumps(durations, indent=1, sort_keys=True))


def _command(stage: Stage, env: str | None) -> list[str]:
    args = shlex.split(stage.cmd)
    if args[0] == "kedro":
        args[0] = str(Path(sys.executable).with_name("kedro"))
        if env:
            args += ["--env", env]
    return args


def _tail(path: Path, lines: int = 30) -> str:
    text = path.read_text(errors="replace").splitlines() if path.is_file() else []
    return "\n".join(text[-lines:])


def run_stages(
    stages: dict[str, Stage],
    jobs: int,
    env: str | None = None,
    log_dir: Path = LOG_DIR,
    say: Callable[[str], None] = print,
) -> list[str]:
    """Run the stages, at most ``jobs`` at a time, each once all it waits for has finished;
    return the names of the stages that failed (none started after a failure)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    waiting = dict(stages)
    running: dict[str, tuple[subprocess.Popen[bytes], float, Path]] = {}
    done: set[str] = set()
    failed: list[str] = []
    total = len(stages)
    priority = _priority(stages, log_dir)
    while waiting or running:
        ready = sorted((s for s in waiting.values() if s.needs & set(stages) <= done),
                       key=lambda s: priority[s.name])
        # the first stage runs alone: it creates the tracking store the others then share
        limit = jobs if done else 1
        while ready and len(running) < limit and not failed:
            stage = ready.pop(0)
            del waiting[stage.name]
            log = log_dir / f"{stage.name}.log"
            with log.open("wb") as handle:
                process = subprocess.Popen(_command(stage, env), stdout=handle,
                                           stderr=subprocess.STDOUT)
            running[stage.name] = (process, time.monotonic(), log)
            say(f"[{len(done) + len(running)}/{total}] {stage.name}: started (log: {log})")
        if failed and not running:
            break
        if not running:  # nothing can start: a stage waits for one that is not selected
            blocked = ", ".join(sorted(waiting))
            raise SystemExit(f"dvc.yaml: stages {blocked} wait for stages that never run")
        time.sleep(0.2)
        for name, (process, started, log) in list(running.items()):
            if process.poll() is None:
                continue
            del running[name]
            minutes, seconds = divmod(int(time.monotonic() - started), 60)
            if process.returncode == 0:
                done.add(name)
                _record_duration(log_dir, name, time.monotonic() - started)
                say(f"[{len(done)}/{total}] {name}: done in {minutes} min {seconds:02d} s")
            else:
                failed.append(name)
                say(f"{name}: FAILED (exit {process.returncode}) after {minutes} min "
                    f"{seconds:02d} s; the end of {log}:\n{_tail(log)}")
    return failed


def record_lock(stages: list[str], say: Callable[[str], None] = print) -> bool:
    """``dvc commit`` the stages just run, so ``dvc.lock`` records their inputs and outputs."""
    dvc = Path(sys.executable).with_name("dvc")
    result = subprocess.run([str(dvc), "commit", "--force", "--quiet", *stages],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        say(f"dvc commit failed, dvc.lock not updated: {result.stderr.strip()[-500:]}")
        return False
    say("dvc.lock records this run: `dvc status` shows what a change would re-run")
    return True


def main(argv: list[str] | None = None) -> int:
    """Command line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m dcpipelines.demo",
        description="Run the pipelines of dvc.yaml on the shipped data, several at a time, "
                    "with the same figures as one at a time.")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("DEMO_JOBS", "2")),
                        help="pipelines run at once (default 2, or $DEMO_JOBS)")
    parser.add_argument("--only", nargs="+", metavar="STAGE",
                        help="run these stages and the ones they read from (default: all)")
    parser.add_argument("--env", help="Kedro configuration environment (e.g. test)")
    parser.add_argument("--no-lock", action="store_true",
                        help="do not record the run in dvc.lock")
    parser.add_argument("--dvc-yaml", type=Path, default=Path("dvc.yaml"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    stages = select(read_stages(args.dvc_yaml), args.only)
    started = time.monotonic()
    print(f"running {len(stages)} stages, {args.jobs} at a time: {', '.join(stages)}")
    failed = run_stages(stages, args.jobs, env=args.env)
    minutes, seconds = divmod(int(time.monotonic() - started), 60)
    if failed:
        print(f"{', '.join(failed)} failed after {minutes} min {seconds:02d} s")
        return 1
    print(f"all {len(stages)} stages done in {minutes} min {seconds:02d} s")
    if not args.no_lock and args.env is None:
        record_lock(list(stages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
