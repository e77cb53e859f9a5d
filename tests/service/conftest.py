"""API fixtures: an app on the test database, and keys for each role."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from service.app import create_app
from service.auth import service as auth
from service.auth.models import Role
from service.context import AppContext
from service.db import transaction

CAP_HEADERS = {"Content-Type": "application/cap+xml"}


@dataclass
class Keys:
    """Plaintext keys of the test principals, as Authorization headers."""

    agency_id: str
    sender: dict[str, str]
    manager: dict[str, str]
    second_manager: dict[str, str]
    admin: dict[str, str]

    def cap(self, role: str = "sender") -> dict[str, str]:
        """Headers for posting CAP with the given principal."""
        return {**getattr(self, role), **CAP_HEADERS}


# id() of the senders list named agencies once: a list freed and a new one at its
# address gave two agencies of one test the same name (CI, PostgreSQL).
_AGENCY_NUMBERS = itertools.count(1)


async def make_keys(context: AppContext, senders: list[str], **agency_options: bool) -> Keys:
    """An agency allowed `senders`, with an agency key, two managers and an admin."""
    async with transaction(context.sessions) as session:
        agency = await auth.create_agency(
            session, name=f"agency-{next(_AGENCY_NUMBERS)}", senders=senders, **agency_options
        )  # type: ignore[arg-type]
        minted = {}
        for label, role in (
            ("sender", Role.AGENCY),
            ("manager", Role.MANAGER),
            ("second_manager", Role.MANAGER),
            ("admin", Role.ADMIN),
        ):
            _key, key = await auth.create_key(
                session,
                name=label,
                role=role,
                agency_id=agency.id if role in {Role.AGENCY, Role.ADMIN} else None,
            )
            minted[label] = {"Authorization": f"Bearer {key.plaintext}"}
    return Keys(agency_id=agency.id, **minted)


@pytest.fixture
async def client(context: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process (ASGI), on the test database."""
    app = create_app(context=context)
    app.state.context = context
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def keys(context: AppContext) -> Keys:
    """Keys for an agency that may send as the test senders used in these tests."""
    return await make_keys(context, ["test@tocsin.dev", "webmaster@rfs.nsw.gov.au"])
