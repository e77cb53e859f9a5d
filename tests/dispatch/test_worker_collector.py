"""A worker keeps what exists at its start out of the cyclic collector's full collections."""

from __future__ import annotations

from service.context import AppContext
from service.worker import running_worker
from tests.service.test_collector import Node, walked_by_collections


async def test_a_worker_freezes_what_exists_once_it_has_started(app_context: AppContext) -> None:
    start_up_object = [Node()]
    assert walked_by_collections(start_up_object)
    async with running_worker(app_context, "w-freeze"):
        assert not walked_by_collections(start_up_object)
