"""Authentication and role checks as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header

from service.auth.models import Role
from service.auth.service import AuthError, Principal, authenticate
from service.context import AppContext, get_context
from service.db import transaction
from service.problems import Problem

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tocsin"'}


async def current_principal(
    context: Annotated[AppContext, Depends(get_context)],
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Principal:
    """The caller, from `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
    presented = x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        presented = authorization[7:]
    if not presented:
        raise Problem(
            401,
            "unauthenticated",
            "Authentication required",
            "Send an API key as 'Authorization: Bearer <key>'.",
            headers=_CHALLENGE,
        )
    cached = context.principals.get(presented)
    if cached is not None:
        return cached
    try:
        async with transaction(context.readers) as session:
            principal = await authenticate(session, presented)
    except AuthError as exc:
        raise Problem(
            401, "unauthenticated", "Authentication failed", str(exc), headers=_CHALLENGE
        ) from exc
    context.principals.put(presented, principal)
    return principal


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting the given roles (admins are always admitted)."""
    allowed = set(roles) | {Role.ADMIN}

    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Problem(
                403,
                "forbidden",
                "Not allowed",
                f"This needs one of the roles: {names}; your key is '{principal.role}'.",
            )
        return principal

    return check
