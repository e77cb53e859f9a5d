"""`tocsin operators …`, `tocsin cells …` and the offline `tocsin resolve`."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from geo import CellImport, synthesize_table, write_cells_csv
from service.context import open_context
from service.db import transaction
from service.network import service
from service.network.errors import NetworkError
from service.network.inventory import (
    CellFormat,
    PreparedInventory,
    prepare_inventory,
    prepare_table,
)
from service.network.offline import OfflineError, resolve_file
from service.settings import Settings

operators_app = typer.Typer(help="Mobile network operators.", no_args_is_help=True)
cells_app = typer.Typer(help="Operators' cell inventories.", no_args_is_help=True)
SHOWN_ERRORS = 20


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


@operators_app.command("create")
def create_operator(
    operator_id: Annotated[str, typer.Option("--id", help="A slug, e.g. 'safaricom'.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    mcc: Annotated[str, typer.Option(help="Mobile country code (3 digits).")],
    mnc: Annotated[str, typer.Option(help="Mobile network code (2-3 digits).")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 code.")],
) -> None:
    """Register an operator; prints its id."""

    async def run() -> str:
        async with open_context(Settings()) as ctx, transaction(ctx.sessions) as session:
            operator = await service.create_operator(
                session, operator_id=operator_id, name=name, mcc=mcc, mnc=mnc, country=country
            )
            return operator.id

    try:
        typer.echo(asyncio.run(run()))
    except NetworkError as exc:
        details = "; ".join(f"{e.get('path')}: {e.get('message')}" for e in exc.errors)
        raise _fail(f"{exc.detail}{': ' + details if details else ''}") from exc


@operators_app.command("list")
def list_operators() -> None:
    """Show every operator and its inventory version."""

    async def run() -> None:
        async with open_context(Settings()) as ctx, transaction(ctx.readers) as session:
            for o in await service.list_operators(session):
                version = o.inventory_version if o.inventory_version is not None else "-"
                typer.echo(f"{o.id}  {o.name}  {o.mcc}-{o.mnc}  {o.country}  inventory v{version}")

    asyncio.run(run())


async def _store(operator: str, prepared: PreparedInventory, source: str) -> int:
    async with open_context(Settings()) as ctx, transaction(ctx.sessions) as session:
        inventory = await service.store_inventory(session, operator, prepared, source=source)
        return inventory.version


def _print_report(prepared: PreparedInventory, version: int) -> None:
    by_tech = ", ".join(f"{t} {n:,}" for t, n in prepared.by_technology.items())
    typer.echo(
        f"inventory v{version}: {prepared.accepted:,} cells ({by_tech}); "
        f"{prepared.rows:,} rows read, {prepared.rejected:,} rejected"
    )
    for error in prepared.errors[:SHOWN_ERRORS]:
        typer.echo(f"  line {error.line}: {error.message}", err=True)
    if prepared.rejected > SHOWN_ERRORS:
        typer.echo(f"  … and {prepared.rejected - SHOWN_ERRORS:,} more", err=True)


@cells_app.command("import")
def import_cells(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The cell file.")],
    operator: Annotated[str, typer.Option(help="Operator id.")],
    fmt: Annotated[
        CellFormat | None, typer.Option("--format", help="Default: from the file name.")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Refuse the file if any row is bad.")] = False,
) -> None:
    """Replace an operator's inventory with FILE, atomically, as a new version."""
    fmt = fmt or CellFormat.for_path(file.name)
    try:
        with file.open("rb") as source:
            prepared = prepare_inventory(source, fmt, strict=strict)
        version = asyncio.run(_store(operator, prepared, file.name))
    except NetworkError as exc:
        for error in exc.errors[:SHOWN_ERRORS]:
            typer.echo(f"  line {error.get('line')}: {error.get('message')}", err=True)
        raise _fail(exc.detail) from exc
    _print_report(prepared, version)


def _bbox(text: str) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter("use min_lon,min_lat,max_lon,max_lat") from None
    if not (-180 <= west < east <= 180 and -85 <= south < north <= 85):
        raise typer.BadParameter("need west < east within ±180 and south < north within ±85")
    return west, south, east, north


@cells_app.command("synth")
def synth_cells(
    operator: Annotated[str, typer.Option(help="Operator id (its MCC/MNC go in the cell ids).")],
    sites: Annotated[int, typer.Option(min=1, help="Number of sites (about 8.5 cells each).")],
    bbox: Annotated[str, typer.Option(help="min_lon,min_lat,max_lon,max_lat")],
    seed: Annotated[int, typer.Option(help="Same seed, same network.")] = 1,
    output: Annotated[
        Path | None, typer.Option(help="Write a cell CSV here instead of importing.")
    ] = None,
) -> None:
    """A realistic synthetic network (dense cities, sparse countryside, 3-sector sites)."""
    box = _bbox(bbox)

    async def codes() -> tuple[str, str]:
        async with open_context(Settings()) as ctx, transaction(ctx.readers) as session:
            found = await service.get_operator(session, operator)
            return found.mcc, found.mnc

    try:
        mcc, mnc = asyncio.run(codes())
        table = synthesize_table(sites, box, seed, mcc, mnc)
        if output is not None:
            with output.open("w", newline="") as out:
                written = write_cells_csv(table, out)
            typer.echo(f"{written:,} cells written to {output}")
            return
        n = len(table)
        prepared = prepare_table(CellImport(table, n, n, 0, ()))
        version = asyncio.run(_store(operator, prepared, f"synth:{sites}:{seed}"))
    except NetworkError as exc:
        raise _fail(exc.detail) from exc
    _print_report(prepared, version)


def resolve(
    cap_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A CAP alert.")],
    cells: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="A cell file.")],
    fmt: Annotated[
        CellFormat | None, typer.Option("--format", help="Default: from the file name.")
    ] = None,
    policy: Annotated[str, typer.Option(help="intersects | min_overlap=<fraction>")] = "intersects",
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON result only.")] = False,
    geocodes: Annotated[
        Path | None, typer.Option(help="GeoJSON of geocode shapes (needs --scheme).")
    ] = None,
    scheme: Annotated[str | None, typer.Option(help="The geocodes' valueName.")] = None,
) -> None:
    """Resolve a CAP file's areas against a cell file, offline (no database)."""
    try:
        result = resolve_file(
            cap_file, cells, fmt or CellFormat.for_path(cells.name), policy, geocodes, scheme
        )
    except OfflineError as exc:
        raise _fail(f"tocsin resolve: {exc}", 2) from exc
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if as_json:
        sys.stdout.write(json.dumps(result.summary) + "\n")
        return
    m = result.summary["metrics"]
    typer.echo(
        f"{len(result.summary['cells']):,} cells; target {m['target_km2']:.2f} km², covered "
        f"{m['covered_km2']:.2f} km², under-alert {m['under_alert_km2']:.2f} km², "
        f"overshoot {m['overshoot_km2']:.2f} km² (ratio {m['overshoot_ratio']})"
    )
