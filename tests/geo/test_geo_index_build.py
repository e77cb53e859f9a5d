"""Building the cell index: the duplicate-id check and the paused cyclic collector."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import geo.index
from geo import CellIndex, synthesize_table


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_build_and_load_run_with_the_collector_off_and_turn_it_back_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    make = geo.index._polygons

    def spying(*args: object) -> object:
        seen.append(gc.isenabled())
        return make(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(geo.index, "_polygons", spying)
    table = synthesize_table(40, (10.0, 50.0, 11.0, 51.0), 3, "001", "01")
    index = CellIndex.build(table, version="v1")
    assert gc.isenabled()
    index.save(tmp_path / "cells.index")
    CellIndex.load(tmp_path / "cells.index")
    assert seen == [False]  # load made its polygons with the collector off
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_caller_stays_off() -> None:
    gc.disable()
    CellIndex.build(synthesize_table(10, (10.0, 50.0, 11.0, 51.0), 3, "001", "01"), version="v")
    assert not gc.isenabled()


def test_overlapping_pauses_resume_only_when_the_last_one_ends() -> None:
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with geo.index._collector_paused():
            inside.set()
            release.wait(5)

    other = threading.Thread(target=hold)
    other.start()
    assert inside.wait(5)
    with geo.index._collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread is still making geometry
    release.set()
    other.join(5)
    assert gc.isenabled()


def test_a_failed_build_turns_the_collector_back_on() -> None:
    table = synthesize_table(10, (10.0, 50.0, 11.0, 51.0), 3, "001", "01")
    doubled = table.take(np.r_[0, 0, 1])
    with pytest.raises(ValueError, match="duplicate"):
        CellIndex.build(doubled, version="v")
    assert gc.isenabled()


@pytest.mark.parametrize(
    ("ids", "duplicated"),
    [
        (["001-01-1-1", "001-01-1-2", "001-01-1-10"], False),
        (["ab", "abc", "a"], False),  # a prefix is another id (NUL padding)
        (["001-01-1-1", "001-01-1-2", "001-01-1-1"], True),
        (["x"], False),
        ([], False),
    ],
)
def test_duplicate_ids_are_found_by_hash(ids: list[str], duplicated: bool) -> None:
    assert geo.index._has_duplicates(np.array(ids, dtype=np.str_)) is duplicated


def test_a_hash_tie_is_settled_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    # With every factor 0 every hash ties, so only the exact check can answer.
    monkeypatch.setattr(geo.index, "_ID_HASH", np.zeros(64, dtype=np.uint64))
    assert not geo.index._has_duplicates(np.array(["a", "b", "c"], dtype=np.str_))
    assert geo.index._has_duplicates(np.array(["a", "b", "a"], dtype=np.str_))


def test_ids_longer_than_the_hash_covers_are_still_checked() -> None:
    long = ["x" * 70 + "1", "x" * 70 + "2", "x" * 70 + "1"]
    assert geo.index._has_duplicates(np.array(long, dtype=np.str_))
