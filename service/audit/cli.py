"""`tocsin audit verify`: prove the trail is intact."""

from __future__ import annotations

import asyncio

import typer

from service.audit import service
from service.context import open_context
from service.db import transaction
from service.settings import Settings

audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)


@audit_app.command("verify")
def verify() -> None:
    """Recompute every hash; exit 1 and name each break when the trail was altered."""

    async def run() -> service.VerifyReport:
        async with open_context(Settings()) as ctx, transaction(ctx.sessions) as session:
            return await service.verify(session)

    report = asyncio.run(run())
    for problem in report.problems:
        typer.echo(f"TAMPERED: {problem}", err=True)
    if not report.ok:
        raise typer.Exit(1)
    typer.echo(f"audit trail intact: {report.events} events")
