"""Every problem type the code can raise is documented."""

from __future__ import annotations

import re
from pathlib import Path

from service.problems import PROBLEM_TYPES

SERVICE = Path(__file__).resolve().parents[2] / "service"


def raised_kinds() -> set[str]:
    kinds = set()
    for source in SERVICE.rglob("*.py"):
        text = source.read_text()
        kinds |= set(re.findall(r'(?:Problem|Refused)\(\s*\d+,\s*"([a-z-]+)"', text))
        kinds |= set(re.findall(r'kind(?:, status, title)? = "([a-z-]+)"', text))
        kinds |= set(re.findall(r'\("([a-z-]+)", 4\d\d\)', text))
    return kinds


def test_every_raised_problem_kind_is_documented() -> None:
    kinds = raised_kinds()
    assert {"invalid-cap", "identity-conflict", "unsupported-media-type"} <= kinds
    assert kinds - set(PROBLEM_TYPES) == set()


def test_docs_show_every_problem_type() -> None:
    doc = (SERVICE.parent / "docs" / "api.md").read_text()
    missing = [kind for kind in PROBLEM_TYPES if f"/problems/{kind}" not in doc]
    assert missing == []


async def test_unexpected_errors_are_500_problems_without_internals() -> None:
    import httpx

    from service.app import create_app

    app = create_app()

    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    app.add_api_route("/boom", boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    body = response.json()
    assert body["type"] == "/problems/internal-error"
    assert len(body["correlation_id"]) == 32
    assert "secret" not in response.text


async def test_a_request_that_lost_a_deadlock_is_asked_to_retry() -> None:
    import httpx
    import psycopg.errors
    from sqlalchemy.exc import OperationalError

    from service.app import create_app

    app = create_app()

    async def deadlocked() -> None:
        orig = psycopg.errors.DeadlockDetected("deadlock detected")
        raise OperationalError("UPDATE alerts ...", {}, orig)

    app.add_api_route("/deadlocked", deadlocked)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/deadlocked")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json()["type"] == "/problems/write-conflict"
    assert "UPDATE" not in response.text
