"""Shared fixtures: databases (SQLite always, PostgreSQL when configured) and the API.

Database tests run once per backend: SQLite on every run, PostgreSQL as well
when TOCSIN_TEST_POSTGRES_URL is set (CI sets it). Backends that are not
configured are not generated at all, so nothing is reported as skipped.
"""

from __future__ import annotations

import functools
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from service import migrations
from service.settings import Settings, sync_database_url
from service.tables import metadata

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "cap"
POSTGRES_URL = os.environ.get("TOCSIN_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])


KANNEL_REQUIRED = os.environ.get("TOCSIN_TEST_KANNEL") == "1"
KANNEL_INSTALLED = all(
    shutil.which(name) or os.access(f"/usr/sbin/{name}", os.X_OK)
    for name in ("bearerbox", "smsbox")
) and os.access("/usr/lib/kannel/test/fakesmsc", os.X_OK)


BROWSER = "/usr/bin/chromium"
BROWSER_REQUIRED = os.environ.get("TOCSIN_TEST_BROWSER") == "1"
BROWSER_INSTALLED = os.access(BROWSER, os.X_OK)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the real-Kannel and real-browser tests on a machine without them.

    CI sets TOCSIN_TEST_KANNEL=1 and TOCSIN_TEST_BROWSER=1 (and installs Kannel
    and Chromium), so there they always run and a missing one fails loudly; a
    newcomer's `make test` needs only Python. Left-out tests are deselected and
    announced, never reported as passed.
    """
    if not (KANNEL_REQUIRED or KANNEL_INSTALLED):
        _leave_out(
            config,
            items,
            lambda item: "/tests/kannel/" in str(item.path),
            "real-Kannel tests left out: Kannel is not installed "
            "(apt-get install kannel kannel-extras, or set TOCSIN_TEST_KANNEL=1 to require them)",
        )
    if not (BROWSER_REQUIRED or BROWSER_INSTALLED):
        _leave_out(
            config,
            items,
            lambda item: "browser" in getattr(item, "fixturenames", ()),
            f"real-browser dashboard tests left out: no {BROWSER} "
            "(apt-get install chromium, or set TOCSIN_TEST_BROWSER=1 to require them)",
        )


def _leave_out(
    config: pytest.Config,
    items: list[pytest.Item],
    selects: Callable[[pytest.Item], bool],
    note: str,
) -> None:
    chosen = [item for item in items if selects(item)]
    if not chosen:
        return
    config.hook.pytest_deselected(items=chosen)
    items[:] = [item for item in items if item not in chosen]
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"note: {len(chosen)} {note}", yellow=True)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every database test on each backend; one marked `postgres` on PostgreSQL alone.

    A `postgres` test is about row locks that SQLite, with its one writer,
    never takes. Without TOCSIN_TEST_POSTGRES_URL it has no parameter and
    pytest reports it skipped; CI sets the URL, so there it always runs.
    """
    if "backend" in metafunc.fixturenames:
        postgres_only = metafunc.definition.get_closest_marker("postgres") is not None
        backends = [b for b in BACKENDS if b == "postgres"] if postgres_only else BACKENDS
        metafunc.parametrize("backend", backends)


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared CAP corpus; its absence is an error, not a reason to skip."""
    if not (CORPUS / "README.md").is_file():
        pytest.fail(f"the CAP corpus is missing at {CORPUS} (expected ../shared beside the repo)")
    return CORPUS


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is the slow part)."""
    path = tmp_path_factory.mktemp("db") / "template.db"
    migrations.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """A fresh, migrated PostgreSQL database for this run, dropped at the end."""
    if not POSTGRES_URL:
        yield None
        return
    name = f"tocsin_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(sync_database_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        # Tests need no durability; without this every commit waits for an fsync.
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    migrations.upgrade(url)
    try:
        yield url
    finally:
        _sync_engine(url).dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@functools.cache
def _sync_engine(url: str) -> sa.Engine:
    return sa.create_engine(sync_database_url(url))


def _truncate_postgres(url: str) -> None:
    with _sync_engine(url).begin() as conn:
        # DELETE beats TRUNCATE by far on the handful of rows a test leaves behind.
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
        conn.exec_driver_sql(
            "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, repeat('0', 64))"
        )


@pytest.fixture
def database_url(
    backend: str, tmp_path: Path, sqlite_template: Path, postgres_database: str | None
) -> str:
    """An empty, migrated database of the requested backend."""
    if backend == "sqlite":
        path = tmp_path / "tocsin.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    assert postgres_database is not None
    _truncate_postgres(postgres_database)
    return postgres_database


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings pointing at the test database and a private data directory."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        public_url="http://testserver",
        log_json=False,
    )


@pytest.fixture
async def context(settings: Settings) -> AsyncIterator[object]:
    from service.context import open_context

    async with open_context(settings) as ctx:
        yield ctx
