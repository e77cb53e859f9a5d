"""Every query of the receipt path, in Core form: thousands of rows per flush, no ORM objects.

Rows are read `FOR UPDATE` (PostgreSQL; SQLite's BEGIN IMMEDIATE already
serialises writers) in id order, so two processes applying reports to the
same messages queue rather than deadlock or overwrite each other.

On PostgreSQL a flush is two statements whatever its size: the ids go as
one array (`id = ANY(:ids)`) and the changes as parallel arrays joined by
`UPDATE ... FROM unnest(...)`. psycopg would otherwise render and split 900
bound parameters per chunk and send one UPDATE per row, which held receipts
to about 13,000 rows/s there (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import BigInteger, any_, bindparam, text, update
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import is_postgres, upsert_into
from service.delivery.models import SmsMessage, UnmatchedReceipt
from service.delivery.receipt_rules import SmsRow

# Well under SQLite's 32,766 bound parameters and PostgreSQL's 65,535.
CHUNK = 900
_SMS = SmsMessage.__table__  # type: ignore[attr-defined]
_UNMATCHED = UnmatchedReceipt.__table__  # type: ignore[attr-defined]
T = TypeVar("T")


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def ids_by_gateway_message_id(
    session: AsyncSession, gateway: str, message_ids: Collection[str]
) -> dict[str, int]:
    """Stored gateway message id -> SmsMessage id, for one gateway's messages."""
    found: dict[str, int] = {}
    wanted = sorted(message_ids)
    for chunk in _chunks(wanted):
        query = select(_SMS.c.gateway_message_id, _SMS.c.id).where(
            _SMS.c.gateway == gateway, _SMS.c.gateway_message_id.in_(chunk)
        )
        for message_id, row_id in (await session.exec(query)).all():
            found[message_id] = row_id
    return found


async def lock_rows(
    session: AsyncSession, ids: Iterable[int]
) -> dict[int, tuple[SmsRow, str | None]]:
    """The rows with these ids (and the gateway each was sent through), locked for update."""
    rows: dict[int, tuple[SmsRow, str | None]] = {}
    columns = (
        _SMS.c.id,
        _SMS.c.state,
        _SMS.c.segments,
        _SMS.c.delivered_segments,
        _SMS.c.raw_report,
        _SMS.c.error,
        _SMS.c.final_at,
        _SMS.c.gateway,
    )
    connection = await session.connection()  # Core: eight plain columns, no ORM objects
    wanted = sorted(set(ids))
    if is_postgres(session):
        array = bindparam("ids", wanted, type_=postgresql.ARRAY(BigInteger))
        chunks: Iterable[Any] = [_SMS.c.id == any_(array)] if wanted else []
    else:
        chunks = (_SMS.c.id.in_(chunk) for chunk in _chunks(wanted))
    for condition in chunks:
        query = core_select(*columns).where(condition).order_by(_SMS.c.id).with_for_update()
        for row in (await connection.execute(query)).all():
            rows[row.id] = (SmsRow(*row[:7]), row.gateway)
    return rows


_UPDATE = (
    update(_SMS)
    .where(_SMS.c.id == bindparam("row_id"))
    .values(
        state=bindparam("new_state"),
        delivered_segments=bindparam("new_mask"),
        raw_report=bindparam("new_raw"),
        error=bindparam("new_error"),
        final_at=bindparam("new_final_at"),
    )
)


# The CASTs give psycopg's untyped arrays their column types (an all-NULL list included).
_PG_UPDATE = text(
    f"""
    UPDATE {_SMS.name} AS m
    SET state = v.state, delivered_segments = v.mask, raw_report = v.raw,
        error = v.error, final_at = v.final_at
    FROM unnest(
        CAST(:ids AS bigint[]), CAST(:states AS varchar[]), CAST(:masks AS bigint[]),
        CAST(:raws AS varchar[]), CAST(:errors AS varchar[]), CAST(:finals AS timestamptz[])
    ) AS v(id, state, mask, raw, error, final_at)
    WHERE m.id = v.id
    """  # noqa: S608  (the table name is our own constant; every value is a bound array)
)


async def update_rows(session: AsyncSession, rows: Sequence[SmsRow]) -> None:
    """Write the changed columns of `rows`: one statement on PostgreSQL, else one executemany."""
    if not rows:
        return
    if is_postgres(session):
        connection = await session.connection()
        await connection.execute(
            _PG_UPDATE,
            {
                "ids": [row.id for row in rows],
                "states": [row.state for row in rows],
                "masks": [row.delivered_segments for row in rows],
                "raws": [row.raw_report for row in rows],
                "errors": [row.error for row in rows],
                "finals": [row.final_at for row in rows],
            },
        )
        return
    params = [
        {
            "row_id": row.id,
            "new_state": row.state,
            "new_mask": row.delivered_segments,
            "new_raw": row.raw_report,
            "new_error": row.error,
            "new_final_at": row.final_at,
        }
        for row in rows
    ]
    await session.exec(_UPDATE, params=params)


async def store_unmatched(session: AsyncSession, items: Sequence[dict[str, Any]]) -> None:
    """Keep reports naming no message of ours, once per (gateway, reference)."""
    if not items:
        return
    statement = upsert_into(session, _UNMATCHED).on_conflict_do_nothing(
        index_elements=["gateway", "reference"]
    )
    # In key order: two flushes inserting the same keys must not wait on each other crosswise.
    ordered = sorted(items, key=lambda item: (item["gateway"], item["reference"]))
    await session.exec(statement, params=ordered)
