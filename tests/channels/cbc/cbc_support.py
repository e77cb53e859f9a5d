"""Message builders shared by the CBC tests (imported by module name from this folder)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response

from channels.cbc import StatusReport, parse_status_report
from channels.cbs import CbsMessage, GeoScope, MessageIdentifier, Purpose, SerialNumber, encode_text

SECRET = "test-secret"


def make_message(
    text: str = "Flash flood warning. Move to higher ground now.",
    *,
    identifier: int = 4371,
    code: int = 100,
    update: int = 0,
    language: str | None = "en",
) -> CbsMessage:
    encoded = encode_text(text, language)
    return CbsMessage(
        identifier=MessageIdentifier(identifier, Purpose.PUBLIC),
        serial_number=SerialNumber(GeoScope.PLMN_WIDE, code, update),
        coding=encoded.coding,
        pages=encoded.pages,
        text=encoded.text,
    )


def updated(message: CbsMessage, text: str) -> CbsMessage:
    """The same message identity with new text and the next update number."""
    encoded = encode_text(text, message.coding.language)
    return replace(
        message,
        serial_number=message.serial_number.next_update(),
        coding=encoded.coding,
        pages=encoded.pages,
        text=encoded.text,
    )


class CallbackSink:
    """A real HTTP endpoint that verifies and keeps status reports."""

    def __init__(self) -> None:
        self.reports: list[StatusReport] = []
        self.rejected = 0
        self.url = ""

    async def receive(self, request: Request) -> Response:
        try:
            report = parse_status_report(
                SECRET, request.headers, await request.body(), now=time.time()
            )
        except Exception:  # any invalid callback is counted, never silently accepted
            self.rejected += 1
            return Response(status_code=401)
        self.reports.append(report)
        return Response(status_code=204)

    async def wait_for(
        self, predicate: Callable[[list[StatusReport]], bool], within_s: float = 5.0
    ) -> None:
        deadline = time.monotonic() + within_s
        while not predicate(self.reports):
            if time.monotonic() > deadline:
                raise AssertionError(f"callbacks never matched; got {self.reports}")
            await asyncio.sleep(0.02)
