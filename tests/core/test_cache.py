"""The one cache: a changed setting builds again, an unchanged one reuses the stored value."""

import pandas as pd
import pytest

from dcpipelines.core.cache import ANY_KEY, Cached, fingerprint
from dcpipelines.datasets import CacheDataset


def _counting_build(log: list, value):
    def build(previous):
        log.append(previous)
        return value

    return build


def test_fingerprint_is_stable_and_sees_every_part():
    assert fingerprint({"b": 1, "a": [1, 2]}, 3) == fingerprint({"a": [1, 2], "b": 1}, 3)
    assert fingerprint({"a": 1}, 3) != fingerprint({"a": 2}, 3)
    assert fingerprint({"a": 1}, 3) != fingerprint({"a": 1}, 4)


@pytest.mark.parametrize("suffix", [".pt", ".parquet"])
def test_unchanged_settings_reuse_and_changed_settings_rebuild(tmp_path, suffix):
    store = CacheDataset(str(tmp_path / f"value{suffix}"))
    calls: list = []

    def value(n):
        return pd.DataFrame({"x": [n]}) if suffix == ".parquet" else {"x": n}

    def stored() -> int:
        loaded = store.load()
        return int(loaded["x"].iloc[0]) if suffix == ".parquet" else loaded["x"]

    def cached(settings, n):
        return Cached(fingerprint(settings), _counting_build(calls, value(n)))

    store.save(cached({"epochs": 2}, 1))
    store.save(cached({"epochs": 2}, 2))  # same key: not built, the stored value stays
    assert len(calls) == 1 and stored() == 1
    store.save(cached({"epochs": 3}, 3))  # changed setting: built again, seeing the stored value
    assert len(calls) == 2 and calls[1] is not None
    assert stored() == 3


def test_keep_any_stored_value_and_plain_values_always_replace(tmp_path):
    store = CacheDataset(str(tmp_path / "value.pt"))
    calls: list = []
    store.save(Cached(None, _counting_build(calls, {"x": 1})))  # nothing stored yet: built
    store.save(Cached(None, _counting_build(calls, {"x": 2})))  # anything stored will do
    assert len(calls) == 1 and store.load() == {"x": 1}
    assert (tmp_path / "value.pt.key").read_text() == ANY_KEY
    store.save({"x": 5})
    assert store.load() == {"x": 5}
    store.save(Cached("k", _counting_build(calls, {"x": 6})))
    assert store.load() == {"x": 6}


def test_a_failed_build_leaves_no_key_that_could_be_reused(tmp_path):
    store = CacheDataset(str(tmp_path / "value.pt"))
    store.save(Cached("first", lambda previous: {"x": 1}))

    def broken(previous):
        raise RuntimeError("training failed")

    with pytest.raises(Exception, match="training failed"):
        store.save(Cached("second", broken))
    assert store.load() == {"x": 1} and (tmp_path / "value.pt.key").read_text() == "first"
