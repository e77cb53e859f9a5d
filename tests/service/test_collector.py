"""Long-lived objects leave the cyclic collector's sight: on freezing, and with a loaded index."""

from __future__ import annotations

import gc
import weakref

import httpx

from service.collector import freeze_long_lived
from service.context import AppContext
from service.db import transaction
from tests.service.geo_fixtures import cells_csv, make_operator


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def walked_by_collections(obj: object) -> bool:
    """Whether a later collection would walk `obj` (frozen objects are in no generation)."""
    return any(o is obj for o in gc.get_objects())


def test_freezing_keeps_live_objects_out_of_collections_and_frees_garbage_first() -> None:
    alive = [Node()]
    garbage = Node()
    gone = weakref.ref(garbage)
    del garbage
    assert walked_by_collections(alive)
    freeze_long_lived()
    assert gone() is None  # collected before the freeze, not kept for ever
    assert not walked_by_collections(alive)
    assert not walked_by_collections(alive[0])


async def test_a_loaded_cell_index_is_kept_out_of_later_collections(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    headers = await make_operator(context)
    put = await client.put(
        "/api/v1/operators/safaricom/cells",
        content=cells_csv(),
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert put.status_code == 200
    async with transaction(context.readers) as session:
        index = await context.cell_indexes.get(session, "safaricom")
    assert index is not None
    assert gc.is_tracked(index.coverage[0])
    assert not walked_by_collections(index.coverage[0])
    assert not walked_by_collections(index.coverage)
