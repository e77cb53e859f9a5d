"""Offline resolution for `tocsin resolve`: a CAP file and a cell file, no database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo import GeocodeRegistry, GeoError, parse_policy, resolve_offline
from service.cap import validate_cap
from service.network.cap_areas import LocatedArea, alert_areas
from service.network.inventory import CellFormat, cell_reader

METRICS = ("target_km2", "covered_km2", "under_alert_km2", "overshoot_km2", "overshoot_ratio")
MAX_CAP_BYTES = 50_000_000


class OfflineError(Exception):
    """The inputs cannot be resolved; the message says which and why."""


@dataclass(frozen=True)
class OfflineResult:
    """`summary` is exactly what `--json` prints; `warnings` go to stderr."""

    summary: dict[str, Any]
    warnings: list[str]


def _area_warnings(located: list[LocatedArea], report: dict[str, Any]) -> list[str]:
    """Each area's problems with its CAP path (unknown geocodes, unusable polygons
    and circles, repairs), then the simplification note, if any."""
    out: list[str] = []
    for item, area in zip(located, report.get("areas", []), strict=True):
        out.extend(f"{item.path}: {message}" for message in area["messages"])
        out.extend(f"{item.path}: {note}" for note in area["notes"])
    if report.get("simplification"):
        out.append(
            f"note: {report['simplification']}; cells are selected with the simplified area, "
            "the metrics measure against the areas as sent"
        )
    return out


def _registry(geocodes: Path | None, scheme: str | None) -> GeocodeRegistry:
    if geocodes is None:
        return GeocodeRegistry()
    if not scheme:
        raise OfflineError("--geocodes needs --scheme (the geocodes' valueName)")
    try:
        collection = json.loads(geocodes.read_text(encoding="utf-8"))
        return GeocodeRegistry.from_geojson({scheme: collection})
    except (ValueError, GeoError, AttributeError) as exc:
        raise OfflineError(f"{geocodes}: {exc}") from exc


def resolve_file(
    cap_file: Path,
    cells: Path,
    fmt: CellFormat,
    policy_text: str,
    geocodes: Path | None = None,
    scheme: str | None = None,
) -> OfflineResult:
    """Resolve every area of the CAP file against the cells.

    Raises:
        OfflineError: invalid CAP, policy, geocode file, cell file or area.
    """
    try:
        policy = parse_policy(policy_text)
    except ValueError as exc:
        raise OfflineError(str(exc)) from exc
    verdict = validate_cap(cap_file.read_bytes(), max_bytes=MAX_CAP_BYTES)
    if verdict.alert is None or not verdict.accepted:
        first = verdict.errors[0] if verdict.errors else None
        raise OfflineError(
            f"{cap_file} is not acceptable CAP: {first.path if first else ''} "
            f"{first.message if first else ''}".strip()
        )
    located, notes = alert_areas(verdict.alert)
    registry = _registry(geocodes, scheme)
    try:
        with cells.open(encoding="utf-8-sig", newline="") as stream:
            result = resolve_offline(
                [item.area for item in located], cell_reader(stream, fmt), policy, registry=registry
            )
    except (GeoError, UnicodeDecodeError) as exc:
        raise OfflineError(str(exc)) from exc
    metrics = {name: getattr(result.metrics, name) for name in METRICS}
    inventory = result.inventory or {}
    warnings = [*notes, *_area_warnings(located, result.area_report or {})]
    warnings += [f"{cells}: line {e['line']}: {e['message']}" for e in inventory.get("errors", [])]
    return OfflineResult({"cells": list(result.cells), "metrics": metrics}, warnings)
