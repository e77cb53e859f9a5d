"""Running Alembic from Tocsin: `tocsin db upgrade`, start-up, and tests."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from alembic import command

SOURCE_ROOT = Path(__file__).resolve().parent.parent


def migrations_root() -> Path:
    """Where `alembic/` and `alembic.ini` are: beside the source tree (a checkout or an
    editable install), else the working directory (the Docker image puts them in /app).

    Raises:
        FileNotFoundError: neither place has them.
    """
    for root in (SOURCE_ROOT, Path.cwd()):
        if (root / "alembic" / "env.py").is_file():
            return root
    raise FileNotFoundError("Tocsin's alembic/ migrations were not found; run from the checkout")


def alembic_config(database_url: str) -> Config:
    """An Alembic config for the migrations shipped with Tocsin, aimed at `database_url`."""
    root = migrations_root()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "alembic"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` to `revision`."""
    command.upgrade(alembic_config(database_url), revision)
