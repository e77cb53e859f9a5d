"""Fixtures shared by the SMS tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sms_callbacks import Receiver, running_receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as recorder:
        yield recorder
