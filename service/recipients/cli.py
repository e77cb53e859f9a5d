"""`tocsin subscribers import FILE`: bulk opt-ins from CSV, upserted by MSISDN."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from service.context import open_context
from service.recipients.csv_rows import COLUMNS, HeaderError
from service.recipients.service import ImportReport, import_subscribers
from service.settings import Settings

subscribers_app = typer.Typer(help="The SMS subscriber registry.", no_args_is_help=True)


@subscribers_app.callback()
def subscribers_group() -> None:
    """Subscriber registry. (The callback keeps `import` a named sub-command.)"""


@subscribers_app.command("import")
def import_file(
    path: Annotated[Path, typer.Argument(help=f"CSV with header: {', '.join(COLUMNS)}.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    error_limit: Annotated[int, typer.Option(help="Errors shown at most.")] = 50,
) -> None:
    """Insert or update subscribers by MSISDN. Exit 2 when some rows were rejected."""

    async def run() -> ImportReport:
        async with open_context(Settings()) as ctx:
            with path.open(encoding="utf-8-sig", newline="") as lines:
                return await import_subscribers(ctx.sessions, lines, error_limit=error_limit)

    if not path.is_file():
        typer.echo(f"error: no such file: {path}", err=True)
        raise typer.Exit(1)
    try:
        report = asyncio.run(run())
    except (HeaderError, UnicodeDecodeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
    else:
        typer.echo(
            f"{report.read} rows read: {report.inserted} inserted, {report.updated} updated, "
            f"{report.rejected} rejected ({report.seconds:.1f} s)"
        )
        for error in report.errors:
            typer.echo(f"  {error}", err=True)
        if report.rejected > len(report.errors):
            typer.echo(f"  ... and {report.rejected - len(report.errors)} more", err=True)
    if report.rejected:
        sys.exit(2)
