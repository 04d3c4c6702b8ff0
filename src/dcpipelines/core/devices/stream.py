"""On-device stream processing of user-behaviour events (Walle's data pipeline, in Python).

Raw events (page enter/leave, exposure, click) stay on the device. Tasks declare a trigger
(a sequence of event ids), a window (time, count or session) and feature functions; the
processor makes one pass over the stream, matching every task's trigger at once with a trie
over event-id sequences, and emits one feature row per firing. Only those rows leave the device.

An event id is ``"<event>"`` or ``"<event>:<page>"``; a trigger step matches either form, so
``("page_enter:detail", "click")`` fires on a click right after entering a detail page.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dcpipelines.core.data.errors import DataValidationError

EVENT_TYPES = ("page_enter", "exposure", "click", "page_leave")
PAGES = ("home", "search", "detail", "cart")
EVENT_COLUMNS = {"user_id": "int64", "session_id": "int64", "ts": "float64", "event": "str",
                 "page": "str", "item_id": "int64", "dwell_s": "float64"}
FEATURES = ("n_events", "n_clicks", "n_exposures", "ctr", "dwell_sum")


# ---------------------------------------------------------------- event generator
def generate_events(
    users: int,
    sessions_per_user: float,
    items: int,
    seed: int,
    popularity_exponent: float = 1.1,
    click_rate: float = 0.08,
) -> pd.DataFrame:
    """A realistic synthetic stream: sessions of page visits, log-normal dwell times, exposures
    of items drawn from a Zipf-like popularity law and clicks on some of them.

    Per user, timestamps strictly increase. Rows are sorted by (ts, user_id), as a device
    fleet's merged log would be.
    """
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, items + 1) ** popularity_exponent
    weights /= weights.sum()
    rows: list[tuple] = []
    for user in range(users):
        clock = float(rng.uniform(0, 3600))
        for session in range(1 + int(rng.poisson(max(sessions_per_user - 1, 0)))):
            for _ in range(1 + int(rng.geometric(0.25))):
                page = PAGES[int(rng.integers(len(PAGES)))]
                enter = clock
                rows.append((user, session, enter, "page_enter", page, -1, 0.0))
                dwell = float(rng.lognormal(np.log(20.0), 0.8))
                shown = rng.choice(items, size=int(rng.integers(1, 8)), p=weights)
                steps = np.sort(rng.uniform(0.05, 0.95, size=len(shown))) * dwell
                for item, offset in zip(shown, steps, strict=True):
                    rows.append((user, session, enter + offset, "exposure", page, int(item), 0.0))
                    if rng.random() < click_rate:
                        rows.append((user, session, enter + offset + 0.01, "click", page,
                                     int(item), 0.0))
                clock = enter + dwell
                rows.append((user, session, clock, "page_leave", page, -1, dwell))
                clock += float(rng.exponential(2.0)) + 0.1
            clock += float(rng.exponential(1800.0)) + 1800.0  # gap between sessions
    events = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    events = events.astype(EVENT_COLUMNS)
    return events.sort_values(["ts", "user_id"], kind="stable").reset_index(drop=True)


def validate_events(events: pd.DataFrame, source: str | Path = "event log") -> pd.DataFrame:
    """Check an event table has the columns and values the processor needs; returns it typed."""
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise DataValidationError(source, f"missing columns {missing}", field=missing[0],
                                  fix=f"provide columns {list(EVENT_COLUMNS)}")
    try:
        events = events[list(EVENT_COLUMNS)].astype(EVENT_COLUMNS)
    except (ValueError, TypeError) as error:
        raise DataValidationError(source, f"a column has the wrong type ({error})",
                                  fix=f"use the types {EVENT_COLUMNS}") from None
    unknown = sorted(set(events["event"]) - set(EVENT_TYPES))
    if unknown:
        raise DataValidationError(source, f"unknown event types {unknown[:5]}", field="event",
                                  fix=f"use one of {EVENT_TYPES}")
    if events["ts"].isna().any():
        row = int(events.index[events["ts"].isna()][0])
        raise DataValidationError(source, "empty timestamp", line=row + 2, field="ts",
                                  fix="give every event a time in seconds")
    return events


def read_event_log(path: str | Path) -> pd.DataFrame:
    """Read a user-provided event log (.csv or .parquet) with the columns of ``EVENT_COLUMNS``."""
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(path, "event log not found", fix="check the path")
    if path.suffix == ".csv":
        events = pd.read_csv(path)
    elif path.suffix == ".parquet":
        events = pd.read_parquet(path)
    else:
        raise DataValidationError(path, f"unsupported file type {path.suffix!r}",
                                  fix="save the log as .csv or .parquet")
    return validate_events(events, path)


# ---------------------------------------------------------------- triggers
@dataclass
class _TrieNode:
    children: dict[str, _TrieNode] = field(default_factory=dict)
    tasks: list[int] = field(default_factory=list)


class TriggerTrie:
    """All tasks' trigger sequences in one trie; ``advance`` moves a user's partial matches.

    A user's state is the set of trie nodes reached by suffixes of their recent events, so
    each event costs one step per live partial match, however many tasks share prefixes.
    """

    def __init__(self, triggers: list[tuple[str, ...]]) -> None:
        self.root = _TrieNode()
        for task, sequence in enumerate(triggers):
            if not sequence:
                raise ValueError(f"task {task}: a trigger needs at least one event id")
            node = self.root
            for step in sequence:
                node = node.children.setdefault(step, _TrieNode())
            node.tasks.append(task)

    def advance(self, state: list[_TrieNode], event_ids: tuple[str, ...]) -> tuple[list, list]:
        """Feed one event (its ids, e.g. ``("click", "click:detail")``); returns the new state
        and the tasks whose trigger sequence has just completed."""
        new_state, fired = [], []
        for node in (self.root, *state):
            for event_id in event_ids:
                child = node.children.get(event_id)
                if child is not None:
                    fired += child.tasks
                    if child.children:
                        new_state.append(child)
        return new_state, fired


# ---------------------------------------------------------------- windows and tasks
@dataclass(frozen=True)
class Window:
    """Which of a user's past events (including the triggering one) a task looks at."""

    kind: str  # "time" (last ``size`` seconds), "count" (last ``size`` events), "session"
    size: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("time", "count", "session"):
            raise ValueError(f"window kind must be time, count or session, got {self.kind!r}")
        if self.kind != "session" and self.size <= 0:
            raise ValueError(f"a {self.kind} window needs a positive size, got {self.size}")


@dataclass(frozen=True)
class StreamTask:
    """An on-device feature task: when ``trigger`` completes, compute FEATURES over ``window``."""

    name: str
    trigger: tuple[str, ...]
    window: Window


def _features(window: list[tuple]) -> tuple[int, int, int, float, float]:
    n_clicks = n_exposures = 0
    dwell = 0.0
    for _, kind, _, dwell_s, _ in window:
        if kind == "click":
            n_clicks += 1
        elif kind == "exposure":
            n_exposures += 1
        dwell += dwell_s
    return len(window), n_clicks, n_exposures, n_clicks / max(n_exposures, 1), dwell


class StreamProcessor:
    """One pass over an event stream for many tasks; per-user buffers bounded by the windows."""

    def __init__(self, tasks: list[StreamTask]) -> None:
        if len({t.name for t in tasks}) != len(tasks):
            raise ValueError("stream task names must be unique")
        self.tasks = tasks
        self.trie = TriggerTrie([t.trigger for t in tasks])
        self.horizon_s = max((t.window.size for t in tasks if t.window.kind == "time"), default=0)
        self.max_count = int(max((t.window.size for t in tasks if t.window.kind == "count"),
                                 default=0))
        self.keeps_sessions = any(t.window.kind == "session" for t in tasks)

    def _window(self, task: StreamTask, buffer: deque, now: float, session: int) -> list[tuple]:
        kind, size = task.window.kind, task.window.size
        if kind == "count":
            return list(buffer)[-int(size):]
        if kind == "time":
            return [e for e in buffer if e[0] > now - size]
        return [e for e in buffer if e[4] == session]

    def _trim(self, buffer: deque, now: float, session: int) -> None:
        while len(buffer) > self.max_count:
            ts, _, _, _, event_session = buffer[0]
            if ts > now - self.horizon_s or (self.keeps_sessions and event_session == session):
                break
            buffer.popleft()

    def process(self, events: pd.DataFrame) -> pd.DataFrame:
        """Feature rows (task, user_id, session_id, ts, *FEATURES), one per trigger firing."""
        states: dict[int, list] = {}
        buffers: dict[int, deque] = {}
        out: list[tuple] = []
        columns = zip(events["user_id"].to_numpy(), events["session_id"].to_numpy(),
                      events["ts"].to_numpy(), events["event"].to_numpy(),
                      events["page"].to_numpy(), events["dwell_s"].to_numpy(), strict=True)
        for user, session, ts, kind, page, dwell in columns:
            user, session, ts, dwell = int(user), int(session), float(ts), float(dwell)
            buffer = buffers.setdefault(user, deque())
            buffer.append((ts, kind, page, dwell, session))
            state, fired = self.trie.advance(states.get(user, []), (kind, f"{kind}:{page}"))
            states[user] = state
            for task_index in fired:
                task = self.tasks[task_index]
                values = _features(self._window(task, buffer, ts, session))
                out.append((task.name, user, session, ts, *values))
            self._trim(buffer, ts, session)
        return pd.DataFrame(out, columns=["task", "user_id", "session_id", "ts", *FEATURES])


def measure_throughput(processor: StreamProcessor, events: pd.DataFrame) -> tuple[float, int]:
    """Events per second of one ``process`` call on this core, and the number of rows out."""
    start = time.perf_counter()
    rows = len(processor.process(events))
    return len(events) / (time.perf_counter() - start), rows


# ---------------------------------------------------------------- reference in plain pandas
def pandas_features(events: pd.DataFrame, task: StreamTask) -> pd.DataFrame:
    """The same features computed column-wise with pandas (the reference for tests)."""
    frame = events.sort_values(["user_id", "ts"], kind="stable").reset_index(drop=True)
    frame["is_click"] = (frame["event"] == "click").astype("int64")
    frame["is_exposure"] = (frame["event"] == "exposure").astype("int64")
    frame["one"] = 1
    ids = frame["event"] + ":" + frame["page"]
    by_user = frame.groupby("user_id", sort=False)
    fires = pd.Series(True, index=frame.index)
    length = len(task.trigger)
    for back, step in enumerate(reversed(task.trigger)):
        shifted_kind = by_user["event"].shift(back)
        shifted_id = ids.groupby(frame["user_id"], sort=False).shift(back)
        fires &= (shifted_kind == step) | (shifted_id == step)
    fires &= by_user.cumcount() >= length - 1
    sums = ["one", "is_click", "is_exposure", "dwell_s"]
    kind, size = task.window.kind, task.window.size
    if kind == "count":
        rolled = by_user[sums].rolling(int(size), min_periods=1).sum()
        rolled = rolled.reset_index(level=0, drop=True)
    elif kind == "time":
        parts = []
        for _, group in by_user:
            indexed = group.set_index(pd.to_datetime(group["ts"], unit="s"))[sums]
            part = indexed.rolling(pd.Timedelta(seconds=size)).sum()
            parts.append(part.set_axis(group.index))
        rolled = pd.concat(parts)
    else:
        rolled = frame.groupby(["user_id", "session_id"], sort=False)[sums].cumsum()
    rolled = rolled.loc[frame.index]
    result = frame.loc[fires, ["user_id", "session_id", "ts"]].copy()
    result["n_events"] = rolled.loc[fires, "one"].round().astype("int64")
    result["n_clicks"] = rolled.loc[fires, "is_click"].round().astype("int64")
    result["n_exposures"] = rolled.loc[fires, "is_exposure"].round().astype("int64")
    result["ctr"] = result["n_clicks"] / result["n_exposures"].clip(lower=1)
    result["dwell_sum"] = rolled.loc[fires, "dwell_s"]
    result.insert(0, "task", task.name)
    return result.reset_index(drop=True)


__all__ = [
    "EVENT_COLUMNS",
    "EVENT_TYPES",
    "FEATURES",
    "StreamProcessor",
    "StreamTask",
    "TriggerTrie",
    "Window",
    "generate_events",
    "measure_throughput",
    "pandas_features",
    "read_event_log",
    "validate_events",
]
