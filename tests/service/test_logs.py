"""Structured logs: one JSON object per line, carrying the alert and dispatch ids in context."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from service.logs import ContextFilter, JsonFormatter, log_context


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("tocsin.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_context_ids_reach_every_record_and_explicit_extras_win(captured: io.StringIO) -> None:
    log = logging.getLogger("tocsin.test")
    with log_context(alert_id="a1"):
        with log_context(dispatch_id="d1"):
            log.info("submitted %s", "cbc1", extra={"operator_id": "op"})
            log.info("override", extra={"dispatch_id": "d2"})
        log.warning("after the inner block")
    log.info("outside")
    first, override, after, outside = lines(captured)
    assert first["message"] == "submitted cbc1"
    assert (first["alert_id"], first["dispatch_id"], first["operator_id"]) == ("a1", "d1", "op")
    assert first["level"] == "info"
    assert override["dispatch_id"] == "d2"
    assert after["alert_id"] == "a1"
    assert "dispatch_id" not in after
    assert "alert_id" not in outside


async def test_concurrent_jobs_keep_their_own_ids(captured: io.StringIO) -> None:
    log = logging.getLogger("tocsin.test")

    async def job(dispatch_id: str) -> None:
        with log_context(dispatch_id=dispatch_id):
            await asyncio.sleep(0.01)
            log.info("window sent")

    await asyncio.gather(job("d1"), job("d2"), job("d3"))
    assert sorted(str(entry["dispatch_id"]) for entry in lines(captured)) == ["d1", "d2", "d3"]
