"""`tocsin channels set|show|check`: operators' CBCs and SMS gateways from the command line.

Exit status: 0 ok; 1 a link is down (`check`) or, for `set`, no such operator;
2 an invalid configuration file or, for `show` and `check`, no such operator.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlmodel import select

from service.context import open_context
from service.db import transaction
from service.network import channels_service
from service.network.channels import ChannelsConfig
from service.network.models import Operator
from service.settings import Settings

channels_app = typer.Typer(help="Operators' CBC endpoints and SMS gateways.", no_args_is_help=True)


@channels_app.command("set")
def set_command(
    operator: Annotated[str, typer.Argument(help="Operator id.")],
    file: Annotated[Path, typer.Argument(help="JSON file with the channel configuration.")],
) -> None:
    """Replace an operator's channel configuration (see docs/operators.md)."""
    try:
        config = ChannelsConfig.model_validate_json(file.read_bytes())
    except ValidationError as exc:
        typer.echo(f"invalid configuration:\n{exc}", err=True)
        raise typer.Exit(2) from exc

    async def run() -> None:
        async with open_context(Settings()) as ctx, transaction(ctx.sessions) as session:
            await channels_service.set_channels(session, operator, config, actor="cli")

    try:
        asyncio.run(run())
    except channels_service.UnknownOperatorError as exc:
        typer.echo(f"no operator '{operator}'", err=True)
        raise typer.Exit(1) from exc
    typer.echo(json.dumps(config.public_view(), indent=2))


@channels_app.command("show")
def show_command(
    operator: Annotated[str, typer.Argument(help="Operator id.")],
) -> None:
    """Print an operator's channel configuration as JSON, secrets masked."""

    async def run() -> Operator | None:
        async with open_context(Settings()) as ctx, transaction(ctx.readers) as session:
            return await session.get(Operator, operator)

    row = asyncio.run(run())
    if row is None:
        typer.echo(f"no operator '{operator}'", err=True)
        raise typer.Exit(2)
    view = ChannelsConfig.model_validate(row.channels).public_view()
    typer.echo(json.dumps(view, indent=2))


@channels_app.command("check")
def check_command(
    operator: Annotated[str | None, typer.Argument(help="Operator id (all when omitted).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Link-test every CBC and SMS gateway; exit 1 if any is down, 2 if no such operator."""

    async def run() -> list[channels_service.LinkReport] | None:
        async with open_context(Settings()) as ctx:
            async with transaction(ctx.readers) as session:
                query = select(Operator)
                if operator is not None:
                    query = query.where(Operator.id == operator)
                operators = list((await session.exec(query)).all())
            if operator is not None and not operators:
                return None
            reports: list[channels_service.LinkReport] = []
            for row in operators:
                reports += await channels_service.check_links(row, ctx.http)
            return reports

    reports = asyncio.run(run())
    if reports is None:
        typer.echo(f"no operator '{operator}'", err=True)
        raise typer.Exit(2)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        table = Table("operator", "channel", "endpoint", "up", "detail")
        for r in reports:
            table.add_row(r.operator, r.channel, r.endpoint, "yes" if r.up else "NO", r.detail)
        Console().print(table)
    if any(not r.up for r in reports):
        raise typer.Exit(1)
