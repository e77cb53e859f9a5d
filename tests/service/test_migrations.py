"""Models and migrations must describe the same schema, on every backend."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service.settings import sync_database_url
from service.tables import metadata


def test_models_and_migrations_do_not_drift(database_url: str) -> None:
    engine = sa.create_engine(sync_database_url(database_url))
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == [], f"write a migration for: {differences}"


def test_drift_check_notices_a_missing_column(database_url: str) -> None:
    engine = sa.create_engine(sync_database_url(database_url))
    with engine.connect() as conn:
        # DDL is transactional on both backends: compare inside, then roll back.
        transaction = conn.begin()
        conn.exec_driver_sql("ALTER TABLE operators DROP COLUMN country")
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
        transaction.rollback()
    engine.dispose()
    assert any(d[0] == "add_column" and d[3].name == "country" for d in differences)
