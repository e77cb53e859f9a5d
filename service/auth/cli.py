"""`tocsin agencies …` and `tocsin keys …`: the first things an admin runs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from service.auth import service
from service.auth.all_clear import AllClearTexts
from service.auth.models import Role
from service.context import open_context
from service.db import transaction
from service.settings import Settings

agencies_app = typer.Typer(
    help="Alerting authorities and the CAP senders they may use.", no_args_is_help=True
)
keys_app = typer.Typer(help="API keys (shown once, stored hashed).", no_args_is_help=True)


@agencies_app.command("create")
def create_agency(
    name: Annotated[str, typer.Option(help="Display name, unique.")],
    sender: Annotated[list[str], typer.Option(help="An allowed CAP <sender>; repeat for more.")],
    requires_approval: Annotated[bool, typer.Option(help="Alerts wait for a manager.")] = False,
    strict: Annotated[bool, typer.Option(help="Element order deviations are errors.")] = False,
    require_signature: Annotated[bool, typer.Option(help="Refuse unsigned alerts.")] = False,
    certificate: Annotated[list[Path] | None, typer.Option(help="Trusted signer PEM.")] = None,
) -> None:
    """Register an agency; prints its id."""
    pems = [p.read_text() for p in certificate or []]

    async def run() -> str:
        async with open_context(Settings()) as ctx, transaction(ctx.sessions) as session:
            agency = await service.create_agency(
                session,
                name=name,
                senders=sender,
                requires_approval=requires_approval,
                strict_cap=strict,
                requires_signature=require_signature,
                certificates_pem=pems,
            )
            return agency.id

    try:
        typer.echo(asyncio.run(run()))
    except service.ConfigurationError as exc:
        raise typer.BadParameter(str(exc)) from exc


@agencies_app.command("list")
def list_agencies() -> None:
    """Show every agency."""

    async def run() -> None:
        async with open_context(Settings()) as ctx, transaction(ctx.sessions) as session:
            for agency in await service.list_agencies(session):
                flags = [
                    f
                    for f, on in (
                        ("approval", agency.requires_approval),
                        ("strict", agency.strict_cap),
                        ("signed", agency.requires_signature),
                    )
                    if on
                ]
                typer.echo(
                    f"{agency.id}  {agency.name}  senders={','.join(agency.senders)}  "
                    f"{' '.join(flags)}"
                )

    asyncio.run(run())


@agencies_app.command("all-clear")
def all_clear(
    agency: Annotated[str, typer.Argument(help="Agency id or name.")],
    text: Annotated[
        list[str] | None,
        typer.Option(help="LANG=TEXT, e.g. en='All clear: the warning is over.'; repeat."),
    ] = None,
    remove: Annotated[bool, typer.Option(help="Send no all-clear any more.")] = False,
) -> None:
    """Show or set the SMS a Cancel from AGENCY sends to everyone the warning reached."""
    texts = _parse_texts(text or [])

    async def run() -> dict[str, str]:
        async with open_context(Settings()) as ctx, transaction(ctx.sessions) as session:
            found = await service.find_agency(session, agency)
            if found is None:
                raise typer.BadParameter(f"no agency '{agency}'")
            if remove or texts:
                found.all_clear = {} if remove else texts
                session.add(found)
            return dict(found.all_clear)

    current = asyncio.run(run())
    for language, message in current.items():
        typer.echo(f"{language}: {message}")
    if not current:
        typer.echo("no all-clear: a Cancel only stops the warning")


def _parse_texts(pairs: list[str]) -> dict[str, str]:
    entries = {}
    for pair in pairs:
        language, sep, message = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"'{pair}' is not LANG=TEXT")
        entries[language.strip()] = message
    try:
        return dict(AllClearTexts(texts=entries).texts) if entries else {}
    except ValidationError as exc:
        raise typer.BadParameter(str(exc.errors()[0]["msg"])) from exc


@keys_app.command("create")
def create_key(
    role: Annotated[Role, typer.Option(help="agency, operator, manager or admin.")],
    name: Annotated[str, typer.Option(help="Who or what holds the key.")],
    agency: Annotated[str | None, typer.Option(help="Agency id or name (agency keys).")] = None,
    operator: Annotated[str | None, typer.Option(help="Operator id (operator keys).")] = None,
) -> None:
    """Mint a key and print it once; only its hash is stored."""

    async def run() -> str:
        async with open_context(Settings()) as ctx, transaction(ctx.sessions) as session:
            agency_id = None
            if agency:
                found = await service.find_agency(session, agency)
                if found is None:
                    raise service.ConfigurationError(f"no agency '{agency}'")
                agency_id = found.id
            _key, minted = await service.create_key(
                session, name=name, role=role, agency_id=agency_id, operator_id=operator
            )
            return minted.plaintext

    try:
        typer.echo(asyncio.run(run()))
    except service.ConfigurationError as exc:
        raise typer.BadParameter(str(exc)) from exc
