"""`tocsin geocodes import` and `tocsin jurisdictions set|show|clear`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from service.areas import service
from service.auth import service as auth
from service.context import open_context
from service.db import transaction
from service.settings import Settings

geocodes_app = typer.Typer(help="Shapes of CAP geocodes (SAME, UGC, NUTS …).", no_args_is_help=True)
jurisdictions_app = typer.Typer(help="The territory each agency may warn.", no_args_is_help=True)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"{path}: {exc}") from exc


@geocodes_app.command("import")
def import_geocodes(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="GeoJSON collection.")],
    scheme: Annotated[str, typer.Option(help="The CAP valueName, e.g. UGC, SAME, NUTS3.")],
    code_property: Annotated[str, typer.Option(help="Feature property holding the code.")] = "code",
) -> None:
    """Replace every shape of SCHEME with the features of FILE."""
    collection = _read_json(file)

    async def run() -> int:
        async with open_context(Settings()) as ctx, transaction(ctx.sessions) as session:
            return await service.import_geocodes(
                session, scheme, collection, code_property=code_property
            )

    try:
        count = asyncio.run(run())
    except service.AreaConfigurationError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(f"{count} {scheme} geocodes imported")


@jurisdictions_app.command("set")
def set_jurisdiction(
    agency: Annotated[str, typer.Option(help="Agency id or name.")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="GeoJSON border.")],
    tolerance_m: Annotated[float, typer.Option(help="Allowed reach beyond it, metres.")] = 1000.0,
) -> None:
    """Restrict an agency's alerts to the territory in FILE."""
    geojson = _read_json(file)

    async def run() -> float:
        async with open_context(Settings()) as ctx, transaction(ctx.sessions) as session:
            found = await auth.find_agency(session, agency)
            if found is None:
                raise service.AreaConfigurationError(f"no agency '{agency}'")
            row = await service.set_jurisdiction(session, found, geojson, tolerance_m=tolerance_m)
            return row.km2

    try:
        km2 = asyncio.run(run())
    except service.AreaConfigurationError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(f"jurisdiction of {agency}: {km2:,.1f} km², tolerance {tolerance_m:.0f} m")


@jurisdictions_app.command("clear")
def clear_jurisdiction(agency: Annotated[str, typer.Option(help="Agency id or name.")]) -> None:
    """Let an agency warn anywhere again."""

    async def run() -> bool:
        async with open_context(Settings()) as ctx, transaction(ctx.sessions) as session:
            found = await auth.find_agency(session, agency)
            return found is not None and await service.clear_jurisdiction(session, found.id)

    if not asyncio.run(run()):
        raise typer.BadParameter(f"agency '{agency}' has no jurisdiction")
    typer.echo(f"jurisdiction of {agency} cleared")
