"""Stream processor: hand-written streams, trie triggers, windows, and pandas as reference."""

import pandas as pd
import pytest

from dcpipelines.core.data.errors import DataValidationError
from dcpipelines.core.devices.stream import (
    StreamProcessor,
    StreamTask,
    TriggerTrie,
    Window,
    generate_events,
    pandas_features,
    read_event_log,
    validate_events,
)


def _stream(rows):
    """rows: (user, session, ts, event, page, dwell)."""
    frame = pd.DataFrame(
        [(u, s, t, e, p, 7 if e in ("exposure", "click") else -1, d) for u, s, t, e, p, d in rows],
        columns=["user_id", "session_id", "ts", "event", "page", "item_id", "dwell_s"],
    )
    return validate_events(frame)


HAND = _stream([
    (1, 0, 0.0, "page_enter", "detail", 0.0),
    (1, 0, 1.0, "exposure", "detail", 0.0),
    (2, 0, 1.5, "page_enter", "detail", 0.0),
    (1, 0, 2.0, "click", "detail", 0.0),
    (2, 0, 2.5, "click", "detail", 0.0),  # user 2 saw no exposure: the 3-step trigger must not fire
    (1, 0, 10.0, "page_leave", "detail", 10.0),
    (1, 1, 100.0, "page_enter", "home", 0.0),
    (1, 1, 101.0, "exposure", "home", 0.0),
    (1, 1, 102.0, "click", "home", 0.0),
])


def test_sequence_trigger_fires_only_on_the_full_sequence():
    task = StreamTask("t", ("page_enter:detail", "exposure", "click"), Window("count", 10))
    out = StreamProcessor([task]).process(HAND)
    assert out[["user_id", "ts"]].values.tolist() == [[1, 2.0]]
    row = out.iloc[0]
    assert (row.n_events, row.n_clicks, row.n_exposures, row.ctr) == (3, 1, 1, 1.0)


def test_windows_time_count_session():
    tasks = [
        StreamTask("time", ("click",), Window("time", 5.0)),
        StreamTask("count", ("click",), Window("count", 2)),
        StreamTask("session", ("click",), Window("session")),
    ]
    out = StreamProcessor(tasks).process(HAND)
    last = out[(out.user_id == 1) & (out.ts == 102.0)].set_index("task")
    # time: events after 97 s -> 3 of session 1; count: the last 2; session: all 3 of session 1
    assert last.loc["time", "n_events"] == 3
    assert last.loc["count", "n_events"] == 2
    assert last.loc["session", "n_events"] == 3
    first = out[(out.user_id == 1) & (out.ts == 2.0)].set_index("task")
    assert first.loc["time", "n_events"] == 3 and first.loc["session", "n_events"] == 3
    leave = StreamProcessor([StreamTask("dwell", ("page_leave",), Window("session"))]).process(HAND)
    assert leave["dwell_sum"].tolist() == [10.0]


def test_trie_shares_prefixes_and_reports_every_completed_trigger():
    trie = TriggerTrie([("a", "b"), ("a", "b", "c"), ("b",), ("b", "c")])
    assert list(trie.root.children) == ["a", "b"]  # two roots for four triggers
    state, fired_all = [], []
    for event in ["a", "b", "c", "a", "c"]:
        state, fired = trie.advance(state, (event,))
        fired_all.append(sorted(fired))
    assert fired_all == [[], [0, 2], [1, 3], [], []]


@pytest.mark.parametrize("window", [Window("time", 300.0), Window("count", 15), Window("session")])
def test_processor_matches_plain_pandas_on_a_generated_stream(window):
    events = generate_events(users=150, sessions_per_user=3, items=200, seed=3)
    tasks = [
        StreamTask("seq", ("page_enter:detail", "exposure"), window),
        StreamTask("click", ("click",), window),
    ]
    out = StreamProcessor(tasks).process(events)
    for task in tasks:
        mine = out[out.task == task.name].sort_values(["user_id", "ts"]).reset_index(drop=True)
        reference = pandas_features(events, task).sort_values(["user_id", "ts"])
        assert len(mine) > 20
        pd.testing.assert_frame_equal(mine, reference.reset_index(drop=True), check_dtype=False)


def test_generator_is_seeded_and_plausible():
    a = generate_events(users=50, sessions_per_user=2, items=100, seed=1)
    b = generate_events(users=50, sessions_per_user=2, items=100, seed=1)
    c = generate_events(users=50, sessions_per_user=2, items=100, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert (a.groupby("user_id")["ts"].diff().dropna() > 0).all()
    exposed = a.loc[a.event == "exposure", "item_id"].value_counts()
    assert exposed.index[0] < 10  # popularity is skewed toward low item ids
    assert (a.loc[a.event == "page_leave", "dwell_s"] > 0).all()


def test_event_log_files_are_read_and_checked(tmp_path):
    HAND.to_csv(tmp_path / "log.csv", index=False)
    pd.testing.assert_frame_equal(read_event_log(tmp_path / "log.csv"), HAND)
    HAND.drop(columns="ts").to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataValidationError, match="bad.csv.*missing columns.*ts"):
        read_event_log(tmp_path / "bad.csv")
    HAND.assign(event="swipe").to_parquet(tmp_path / "odd.parquet")
    with pytest.raises(DataValidationError, match="unknown event types.*swipe"):
        read_event_log(tmp_path / "odd.parquet")
    with pytest.raises(DataValidationError, match="unsupported file type"):
        (tmp_path / "x.json").write_text("[]")
        read_event_log(tmp_path / "x.json")
