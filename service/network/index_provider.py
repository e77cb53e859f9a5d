"""One shared, read-only `CellIndex` per operator, swapped when its inventory changes.

Building the index of a national inventory takes seconds and hundreds of MB,
so a process keeps exactly one per operator: built (or loaded from the disk
cache) on first use, shared by every request and job, and replaced by a
single dict assignment when the operator's inventory version moves on.
Readers holding the old index finish with it; nothing is mutated in place.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from geo import CellIndex, IndexFormatError, decode_table
from service.collector import freeze_long_lived
from service.network import repository

log = logging.getLogger(__name__)


def index_version(operator_id: str, version: int) -> str:
    """How an index names the inventory it was built from."""
    return f"{operator_id}:{version}"


class CellIndexProvider:
    """Hands out the current `CellIndex` of each operator.

    `cache_dir` (optional) keeps built indexes as files, so a restart loads in
    about a second instead of rebuilding; files are named by operator and
    version, so a stale file is never used for a newer inventory.
    """

    def __init__(self, cache_dir: Path | None = None) -> None:
        self._cache_dir = cache_dir
        self._current: dict[str, CellIndex] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def cached(self, operator_id: str) -> CellIndex | None:
        """The index in memory for an operator, whatever its version (for tests, metrics)."""
        return self._current.get(operator_id)

    async def get(self, session: AsyncSession, operator_id: str) -> CellIndex | None:
        """The index of the operator's inventory in force; None when it has none.

        Raises:
            geo.FormatError: the stored inventory blob is damaged.
        """
        operator = await repository.get_operator(session, operator_id)
        if operator is None or operator.inventory_version is None:
            return None
        wanted = index_version(operator_id, operator.inventory_version)
        current = self._current.get(operator_id)
        if current is not None and current.version == wanted:
            return current
        lock = self._locks.setdefault(operator_id, asyncio.Lock())
        async with lock:  # one build per operator at a time; the others wait for it
            current = self._current.get(operator_id)
            if current is not None and current.version == wanted:
                return current
            index = await self._load_or_build(session, operator_id, operator.inventory_version)
            self._current[operator_id] = index  # the atomic swap
            # Its geometries stay until the next swap: no full collection should walk
            # them. CellIndex.build and load end with a collection (the last of several
            # running at once does): not another here.
            freeze_long_lived(collect=False)
            return index

    def _path(self, inventory_id: str) -> Path | None:
        # Named by the inventory's random id, so a file can never be taken for
        # another inventory (e.g. after the database was recreated).
        return None if self._cache_dir is None else self._cache_dir / f"{inventory_id}.npz"

    async def _load_or_build(
        self, session: AsyncSession, operator_id: str, version: int
    ) -> CellIndex:
        name = index_version(operator_id, version)
        inventory = await repository.inventory(session, operator_id, version)
        if inventory is None:
            raise LookupError(f"inventory {name} is not stored")
        path = self._path(inventory.id)
        if path is not None and path.is_file():
            try:
                index = await asyncio.to_thread(CellIndex.load, path)
                if index.version == name:
                    return index
            except IndexFormatError:
                log.warning("cell index cache %s unreadable; rebuilding", path)
        blob = await repository.inventory_blob(session, inventory.id)
        if blob is None:
            raise LookupError(f"inventory {name} has no stored cells")
        index = await asyncio.to_thread(_build, blob, name)
        if path is not None:
            await asyncio.to_thread(_save, index, path)
        return index


def _build(blob: bytes, version: str) -> CellIndex:
    return CellIndex.build(decode_table(blob), version=version)


def _save(index: CellIndex, path: Path) -> None:
    """Write the cache file atomically (rename), so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    try:
        index.save(partial)
        partial.replace(path)
    except OSError as exc:  # the cache is an optimisation: serve without it
        log.warning("cannot write cell index cache %s: %s", path, exc)
