"""The admin CLI: agencies, keys, db upgrade and audit verify, against a real database."""

from __future__ import annotations

import sqlalchemy as sa
from typer.testing import CliRunner

from service.cli import app
from service.settings import Settings, sync_database_url

runner = CliRunner()


def env_for(settings: Settings) -> dict[str, str]:
    return {
        "TOCSIN_DATABASE_URL": str(settings.database_url),
        "TOCSIN_DATA_DIR": str(settings.data_dir),
    }


def test_db_upgrade_is_idempotent(settings: Settings) -> None:
    result = runner.invoke(app, ["db", "upgrade"], env=env_for(settings))
    assert result.exit_code == 0, result.output
    assert "head" in result.output


def test_agency_and_key_creation(settings: Settings) -> None:
    env = env_for(settings)
    created = runner.invoke(
        app,
        [
            "agencies",
            "create",
            "--name",
            "Met",
            "--sender",
            "met@example.org",
            "--requires-approval",
        ],
        env=env,
    )
    assert created.exit_code == 0, created.output
    agency_id = created.output.strip()
    listed = runner.invoke(app, ["agencies", "list"], env=env)
    assert agency_id in listed.output
    assert "approval" in listed.output
    key = runner.invoke(
        app, ["keys", "create", "--role", "agency", "--name", "met-bot", "--agency", "Met"], env=env
    )
    assert key.exit_code == 0, key.output
    plaintext = key.output.strip()
    assert plaintext.startswith("tocsin_")
    engine = sa.create_engine(sync_database_url(str(settings.database_url)))
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT secret_sha256, agency_id FROM api_keys").one()
    engine.dispose()
    assert plaintext.split("_", 2)[2] not in stored[0]  # only the hash is kept
    assert stored[1] == agency_id


def test_agency_key_without_agency_is_refused(settings: Settings) -> None:
    result = runner.invoke(
        app, ["keys", "create", "--role", "agency", "--name", "x"], env=env_for(settings)
    )
    assert result.exit_code != 0
    assert "bound to an agency" in result.output


def test_audit_verify_reports_tampering(settings: Settings) -> None:
    env = env_for(settings)
    runner.invoke(app, ["agencies", "create", "--name", "Met", "--sender", "m@x"], env=env)
    ok = runner.invoke(app, ["audit", "verify"], env=env)
    assert ok.exit_code == 0
    assert "intact" in ok.output
    engine = sa.create_engine(sync_database_url(str(settings.database_url)))
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO audit_events (seq, at, actor, action, detail, prev_hash, hash) "
            "VALUES (1, '2026-01-01 00:00:00', 'forger', 'alert.state', '{}', 'x', 'y')"
        )
    engine.dispose()
    bad = runner.invoke(app, ["audit", "verify"], env=env)
    assert bad.exit_code == 1
    assert "TAMPERED" in bad.output


def test_agency_all_clear_is_set_shown_and_removed(settings: Settings) -> None:
    env = env_for(settings)
    created = runner.invoke(
        app, ["agencies", "create", "--name", "Civil", "--sender", "c@example.org"], env=env
    )
    assert created.exit_code == 0, created.output
    command = ["agencies", "all-clear", "Civil"]
    assert "no all-clear" in runner.invoke(app, command, env=env).output
    set_it = runner.invoke(
        app, [*command, "--text", "en=All clear.", "--text", "fr=Fin d'alerte."], env=env
    )
    assert set_it.exit_code == 0, set_it.output
    shown = runner.invoke(app, command, env=env).output
    assert "en: All clear." in shown
    assert "fr: Fin d'alerte." in shown
    bad = runner.invoke(app, [*command, "--text", "All clear"], env=env)
    assert bad.exit_code != 0
    assert "LANG=TEXT" in bad.output
    removed = runner.invoke(app, [*command, "--remove"], env=env)
    assert "no all-clear" in removed.output
