"""Creating agencies and keys; turning a presented key into a principal."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth.keys import MintedKey, mint_key, secret_matches, split_key
from service.auth.models import Agency, ApiKey, Role


@dataclass(frozen=True)
class Principal:
    """The caller of a request, as far as authorisation cares."""

    key_id: str
    name: str
    role: Role
    agency: Agency | None = None
    operator_id: str | None = None

    @property
    def actor(self) -> str:
        """How the audit trail names this caller."""
        return f"key:{self.key_id}({self.name})"


class AuthError(Exception):
    """The presented key is missing, malformed, unknown or revoked."""


class ConfigurationError(ValueError):
    """A key or agency request that cannot be honoured (e.g. an agency key without agency)."""


async def create_agency(
    session: AsyncSession,
    *,
    name: str,
    senders: list[str],
    requires_approval: bool = False,
    strict_cap: bool = False,
    requires_signature: bool = False,
    certificates_pem: list[str] | None = None,
) -> Agency:
    """Register an alerting authority and the CAP senders it may use.

    Raises:
        ConfigurationError: no sender given, or a signature required without certificates.
    """
    if not senders:
        raise ConfigurationError("an agency needs at least one allowed sender")
    if requires_signature and not certificates_pem:
        raise ConfigurationError("requiring signatures needs at least one trusted certificate")
    agency = Agency(
        name=name,
        senders=senders,
        requires_approval=requires_approval,
        strict_cap=strict_cap,
        requires_signature=requires_signature,
        certificates_pem=certificates_pem or [],
    )
    session.add(agency)
    await session.flush()
    return agency


async def find_agency(session: AsyncSession, id_or_name: str) -> Agency | None:
    """An agency by id or by name."""
    agency = await session.get(Agency, id_or_name)
    if agency is None:
        agency = (await session.exec(select(Agency).where(Agency.name == id_or_name))).first()
    return agency


async def create_key(
    session: AsyncSession,
    *,
    name: str,
    role: Role,
    agency_id: str | None = None,
    operator_id: str | None = None,
) -> tuple[ApiKey, MintedKey]:
    """Mint a key; the plaintext in the returned MintedKey is never stored.

    Raises:
        ConfigurationError: an agency key without agency, or an operator key without operator.
    """
    if role is Role.AGENCY and not agency_id:
        raise ConfigurationError("an agency key must be bound to an agency")
    if role is Role.OPERATOR and not operator_id:
        raise ConfigurationError("an operator key must be bound to an operator")
    minted = mint_key()
    key = ApiKey(
        id=minted.key_id,
        name=name,
        role=role,
        secret_sha256=minted.secret_sha256,
        # An admin may also be bound to an agency, to post alerts under its rules.
        agency_id=agency_id if role in {Role.AGENCY, Role.ADMIN} else None,
        operator_id=operator_id if role is Role.OPERATOR else None,
    )
    session.add(key)
    await session.flush()
    return key, minted


async def authenticate(session: AsyncSession, presented: str) -> Principal:
    """The principal behind a presented key.

    Raises:
        AuthError: the key is malformed, unknown, revoked, or its secret is wrong.
    """
    parts = split_key(presented)
    if parts is None:
        raise AuthError("the API key is not in the form tocsin_<id>_<secret>")
    key = await session.get(ApiKey, parts[0])
    if key is None or key.revoked_at is not None or not secret_matches(parts[1], key.secret_sha256):
        raise AuthError("unknown or revoked API key")
    agency = await session.get(Agency, key.agency_id) if key.agency_id else None
    return Principal(key.id, key.name, Role(key.role), agency, key.operator_id)


async def list_agencies(session: AsyncSession) -> list[Agency]:
    """Every agency, by name."""
    return list((await session.exec(select(Agency).order_by(col(Agency.name)))).all())
