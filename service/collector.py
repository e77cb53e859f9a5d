"""Keeping objects that live as long as the process out of Python's cyclic collector.

A full collection walks every tracked object, and it runs in whatever
request or job happens to allocate when the threshold is reached, holding
that event loop (and, in a writer, SQLite's write turn) for as long as the
walk takes. What exists once a process has started — modules, models,
compiled schemas — and a loaded cell index (a million Shapely geometries for
a national network) is not garbage and never will be, so each process moves
it to the collector's permanent generation (`gc.freeze`) once it is in
place. A worker that had not done so paused for 100-115 ms on each full
collection under bench/ingest.py's load (about 190,000 objects, most of them
from start-up), and every intake waiting for the write turn waited with it.
Frozen objects are still freed by reference counting when dropped (a
replaced index goes as before). What the collector alone could free is
kept: garbage in reference cycles at the moment of freezing (so a
collection runs first), and objects alive then, such as those of a request
in flight during an index swap, that later end up in a cycle. That is a few
objects once per start-up and per inventory version, not per request.
"""

from __future__ import annotations

import gc


def freeze_long_lived(*, collect: bool = True) -> None:
    """Collect what is garbage now, then keep everything still alive out of later collections.

    ``collect=False`` when a full collection has just run (a cell index's
    build or load ends with one): a second would walk the new index's
    million geometries again, in the caller's event loop.
    """
    if collect:
        gc.collect()
    gc.freeze()
