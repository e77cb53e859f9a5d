"""Alembic environment: Tocsin's metadata, the URL from Tocsin's settings, batch mode for SQLite."""

from __future__ import annotations

from sqlalchemy import create_engine, pool

from alembic import context
from service.settings import Settings, sync_database_url
from service.tables import metadata

config = context.config


def database_url() -> str:
    """An explicit URL set by the caller (tests, CLI) wins over the settings."""
    explicit = config.attributes.get("database_url")
    if explicit:
        return sync_database_url(str(explicit))
    return sync_database_url(Settings().resolved_database_url())


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(), target_metadata=metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
