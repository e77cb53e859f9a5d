"""The one object that wires Tocsin together for a process.

Built once at start-up (API lifespan, worker start-up, CLI command) and
passed explicitly; nothing else reads settings or opens connections.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request

import service.tables  # noqa: F401  (registers every table, so foreign keys resolve)
from service.auth.cache import PrincipalCache
from service.db import create_engine, session_maker
from service.delivery.receipt_gateways import GatewayDirectory
from service.delivery.receipt_writer import ReceiptWriter
from service.network.index_provider import CellIndexProvider
from service.queue.connection import open_queue
from service.settings import Settings


@dataclass(frozen=True)
class AppContext:
    """Shared handles for one process.

    `sessions` is for units of work that write; `readers` for those that only
    read (on SQLite they do not queue for the write lock; on PostgreSQL both
    are the same).
    """

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    readers: async_sessionmaker[AsyncSession]
    principals: PrincipalCache = field(default_factory=PrincipalCache)
    # One CellIndex per operator inventory version, shared by API and worker.
    cell_indexes: CellIndexProvider = field(default_factory=CellIndexProvider)
    # arq's pool: None only where no Redis is configured (offline CLI commands).
    queue: ArqRedis | None = None
    # One HTTP client per process for CBCs and gateways (connection reuse).
    http: httpx.AsyncClient = field(default_factory=httpx.AsyncClient)
    # Delivery reports: the group-commit writer (API receipt endpoints, SMPP
    # receipts in the worker) and the receipt-URL gateway names, cached.
    receipts: ReceiptWriter | None = None
    receipt_gateways: GatewayDirectory = field(default_factory=GatewayDirectory)


@asynccontextmanager
async def open_context(
    settings: Settings, *, redis_url: str | None = None
) -> AsyncIterator[AppContext]:
    """Open the database engine (and the queue, given a Redis URL); close both on exit.

    `redis_url` defaults to `settings.redis_url`; the embedded Redis passes its socket.
    """
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url()
    engine = create_engine(url)
    read_engine = create_engine(url, read_only=True) if url.startswith("sqlite") else engine
    queue_url = redis_url or settings.redis_url
    queue = await open_queue(queue_url) if queue_url else None
    http = httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=5.0))
    sessions = session_maker(engine)
    # Starts on first use; PostgreSQL takes two flushes at once, SQLite one writer.
    receipts = ReceiptWriter(sessions, concurrency=1 if url.startswith("sqlite") else 2)
    try:
        yield AppContext(
            settings=settings,
            engine=engine,
            sessions=sessions,
            readers=session_maker(read_engine),
            cell_indexes=CellIndexProvider(settings.data_dir / "cell-indexes"),
            queue=queue,
            http=http,
            receipts=receipts,
        )
    finally:
        await receipts.close()  # before the engine goes: it flushes what is waiting
        await http.aclose()
        if queue is not None:
            await queue.aclose()  # type: ignore[attr-defined]
        await engine.dispose()
        await read_engine.dispose()


async def get_context(request: Request) -> AppContext:
    """FastAPI dependency: the context the app was started with.

    Async on purpose: FastAPI runs a plain function dependency in its thread
    pool, a thread hop on every request for an attribute read.
    """
    context: AppContext = request.app.state.context
    return context
