"""The Kannel harness itself: a missing Kannel must fail the run, never skip it."""

from __future__ import annotations

from pathlib import Path

import pytest
from kannel_harness import KannelSetup, kannel_binaries


def test_missing_kannel_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kannel_harness.FAKESMSC", "/nonexistent/fakesmsc")
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y kannel kannel-extras"):
        kannel_binaries()


def test_generated_config_routes_by_smsc_id(tmp_path: Path) -> None:
    setup = KannelSetup(tmp_path, 2775, 13000, 13001, 13013, 10000)
    config = setup.config()
    assert "allowed-smsc-id = fake" in config
    assert "allowed-smsc-id = smpp" in config
    assert "port = 2775" in config
    assert "admin-interface = 127.0.0.1" in config
    assert len(setup.smpp_password) <= 8  # SMPP 3.4 limit; Kannel truncates longer ones
