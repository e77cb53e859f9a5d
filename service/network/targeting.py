"""Targeting: which cells of every operator an alert goes to, and how well they fit.

`compute_targeting` runs in the worker after an alert is accepted or
approved (never inside the intake request: a national resolution can take a
second). It stores one `Targeting` row per operator and is idempotent: a row
already computed for the operator's current inventory version is returned
unchanged, so a retried job writes nothing new.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any

import shapely
from shapely.geometry import mapping
from sqlmodel.ext.asyncio.session import AsyncSession

from geo import (
    INTERSECTS,
    AlertArea,
    CellIndex,
    GeocodeRegistry,
    GeoError,
    Policy,
    build_alert_area,
    resolve,
)
from service.alerts import repository as alerts_repository
from service.areas.service import registry_for
from service.cap import CapAlert, read_accepted_cap
from service.db import utcnow
from service.network import repository
from service.network.cap_areas import LocatedArea, alert_areas
from service.network.index_provider import CellIndexProvider
from service.network.models import Operator, Targeting

# Covered outlines are unions of thousands of sectors; for a map, 0.0005° (about
# 50 m) is invisible and keeps the stored GeoJSON small. Metrics use exact areas.
_MAP_TOLERANCE_DEG = 0.0005


class TargetingError(LookupError):
    """The alert (or its stored document) does not exist."""


@dataclass(frozen=True)
class AlertTarget:
    """The alert's geometry, or why there is none; `notes` go into every row."""

    area: AlertArea | None
    problems: tuple[str, ...]


def _parse(content: bytes) -> CapAlert:
    alert = read_accepted_cap(content)  # checked at intake: read, not validated again
    if alert is None:  # it was accepted at intake; only altered bytes could do this
        raise TargetingError("the stored CAP document no longer parses")
    return alert


def _area_problems(area: AlertArea, located: list[LocatedArea]) -> list[str]:
    """One line per thing the sender should know, each with its CAP path.

    An area that cannot be used (no usable polygon or circle, only unknown
    geocodes) is named with why; a bad polygon or circle within an otherwise
    usable area is named too, and the rest of that area is still targeted.
    """
    problems: list[str] = []
    for item, contribution in zip(located, area.contributions, strict=True):
        problems.extend(f"{item.path}: {message}" for message in contribution.messages())
        problems.extend(f"{item.path}: {note}" for note in contribution.notes)
    if area.simplification is not None:
        problems.append(
            f"note: {area.simplification.describe()}; cells are selected with the "
            "simplified area, the metrics measure against the areas as sent"
        )
    return problems


def build_target(located: list[LocatedArea], registry: GeocodeRegistry) -> AlertTarget:
    """The union of all the alert's usable areas, with every problem spelled out.

    One unusable area never costs the others: it is named (with its CAP path)
    in the problems and the rest are targeted. Only an alert above the hard
    complexity limits (which intake refuses, counting the same way) or with
    no usable area at all has no target.
    """
    try:
        area = build_alert_area([item.area for item in located], registry=registry)
    except GeoError as exc:
        return AlertTarget(None, (str(exc),))
    problems = _area_problems(area, located)
    if area.is_empty:
        return AlertTarget(None, (*problems, "no area of the alert can be targeted"))
    return AlertTarget(area, tuple(problems))


async def alert_target(session: AsyncSession, alert_id: str) -> AlertTarget:
    """Read the stored CAP of an alert and build its target area.

    Raises:
        TargetingError: no such alert or document.
    """
    document = await alerts_repository.get_document(session, alert_id)
    if document is None:
        raise TargetingError(f"no alert with id {alert_id}")
    located, notes = alert_areas(_parse(document.content))
    target = build_target(located, await registry_for(session, located))
    return AlertTarget(target.area, (*notes, *target.problems))


def _map_geojson(area: AlertArea, covered: Any, operator_id: str) -> dict[str, Any]:
    features = [
        {"type": "Feature", "properties": {"role": "target"}, "geometry": mapping(area.geometry)}
    ]
    if covered is not None and not covered.is_empty:
        simple = shapely.simplify(covered, _MAP_TOLERANCE_DEG, preserve_topology=True)
        features.append(
            {
                "type": "Feature",
                "properties": {"role": "covered", "operator": operator_id},
                "geometry": mapping(simple),
            }
        )
    return {"type": "FeatureCollection", "features": features}


async def _resolve_operator(
    row: Targeting, index: CellIndex | None, target: AlertTarget, policy: Policy
) -> None:
    row.problems = list(target.problems)
    row.cells, row.cell_count, row.metrics, row.geojson = [], 0, {}, {}
    if target.area is None:
        return
    if index is None:
        row.problems.append(f"operator '{row.operator_id}' has no cell inventory")
        row.geojson = _map_geojson(target.area, None, row.operator_id)
        return
    # GEOS releases the GIL: a big resolution does not stall the event loop.
    result = await asyncio.to_thread(resolve, index, target.area, policy, with_geometry=True)
    row.cells = list(result.cells)
    row.cell_count = result.count
    row.metrics = asdict(result.metrics)
    row.geojson = _map_geojson(target.area, result.covered, row.operator_id)


def _current(row: Targeting | None, operator: Operator, policy: Policy) -> bool:
    """Whether `row` was computed for the operator's inventory in force and this policy."""
    return (
        row is not None
        and row.inventory_version == operator.inventory_version
        and row.policy == policy.describe()
    )


async def _target_operator(
    session: AsyncSession,
    provider: CellIndexProvider,
    operator: Operator,
    existing: Targeting | None,
    context: tuple[str, AlertTarget, Policy],
) -> Targeting:
    alert_id, target, policy = context
    if existing is not None and _current(existing, operator, policy):
        return existing  # already computed for this inventory: nothing changes
    row = existing or Targeting(alert_id=alert_id, operator_id=operator.id, policy="")
    index = await provider.get(session, operator.id)
    await _resolve_operator(row, index, target, policy)
    row.inventory_version = operator.inventory_version
    row.policy = policy.describe()
    row.computed_at = utcnow()
    repository.save_targeting(session, row)
    return row


async def targeting_is_current(
    session: AsyncSession, alert_id: str, *, policy: Policy = INTERSECTS
) -> bool:
    """Whether `compute_targeting` would find nothing to do (no operator, or every row current).

    Cheap and read-only, so a job can ask first and take the write lock
    only when there is targeting to store.
    """
    operators = await repository.list_operators(session)
    if not operators:
        return await alerts_repository.get(session, alert_id) is not None
    existing = {t.operator_id: t for t in await repository.targetings(session, alert_id)}
    return all(_current(existing.get(o.id), o, policy) for o in operators)


async def compute_targeting(
    session: AsyncSession,
    provider: CellIndexProvider,
    alert_id: str,
    *,
    policy: Policy = INTERSECTS,
) -> list[Targeting]:
    """Resolve the alert against every operator's inventory; one stored row per operator.

    The target is the union of all areas of every info. Problems (an area
    that cannot be targeted, an operator without inventory) are kept on the
    rows, never raised: the dispatcher decides what to do with them.

    Raises:
        TargetingError: no such alert.
    """
    existing = {t.operator_id: t for t in await repository.targetings(session, alert_id)}
    operators = await repository.list_operators(session)
    if operators and all(_current(existing.get(o.id), o, policy) for o in operators):
        return [existing[o.id] for o in operators]  # a retried job: no parse, no geometry
    if not operators:  # nobody to target: no parse, no geometry
        if await alerts_repository.get(session, alert_id) is None:
            raise TargetingError(f"no alert with id {alert_id}")
        return []
    target = await alert_target(session, alert_id)
    rows = [
        await _target_operator(
            session, provider, operator, existing.get(operator.id), (alert_id, target, policy)
        )
        for operator in operators
    ]
    await session.flush()
    return rows
