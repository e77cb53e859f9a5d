"""Fixtures for the CAP tests: the shared corpus, located beside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

CAP_CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "cap"


@pytest.fixture(scope="session")
def cap_corpus() -> Path:
    """The CAP corpus directory. Missing corpus is a failure, never a skip."""
    if not (CAP_CORPUS / "README.md").is_file():
        pytest.fail(f"CAP corpus not found at {CAP_CORPUS}; it must sit in ../shared/corpus/cap")
    return CAP_CORPUS
