"""CAP areas of a parsed alert as the `geo` library's values.

CAP keeps polygons as (lat, lon) pairs and so does `geo.CapArea`: no
reordering happens here, which is exactly what keeps the classic swap out.
A zero-radius circle (a point, as some senders give for an epicentre) has
no area and is left out with a note rather than made up.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo import CapArea, Circle, Geocode
from service.cap import CapAlert, CapInfo
from service.cap import CapArea as CapAreaElement


@dataclass(frozen=True)
class LocatedArea:
    """A geo area with the path of the CAP element it came from."""

    path: str
    area: CapArea


def _geo_area(element: CapAreaElement, path: str, notes: list[str]) -> CapArea:
    circles = []
    for lat, lon, radius in element.circles:
        if radius > 0:
            circles.append(Circle(lat, lon, radius))
        else:
            notes.append(f"{path} ({element.area_desc!r}): a zero-radius circle has no area")
    return CapArea(
        element.area_desc,
        polygons=tuple(tuple(polygon) for polygon in element.polygons),
        circles=tuple(circles),
        geocodes=tuple(Geocode(name, value) for name, value in element.geocodes),
    )


def info_areas(info: CapInfo, info_number: int, notes: list[str]) -> list[LocatedArea]:
    """The areas of one info (numbered from 1, as in the problem paths)."""
    return [
        LocatedArea(
            f"/alert/info[{info_number}]/area[{m}]",
            _geo_area(element, f"/alert/info[{info_number}]/area[{m}]", notes),
        )
        for m, element in enumerate(info.areas, 1)
    ]


def alert_areas(cap: CapAlert) -> tuple[list[LocatedArea], list[str]]:
    """Every distinct area of every info, and notes on what was left out.

    Infos in several languages repeat the same areas; an area already seen
    (same description and shapes) is counted once, so it neither weighs
    twice against the complexity limits nor costs a second union.
    """
    notes: list[str] = []
    seen: set[CapArea] = set()
    located: list[LocatedArea] = []
    for n, info in enumerate(cap.infos, 1):
        for item in info_areas(info, n, notes):
            if item.area not in seen:
                seen.add(item.area)
                located.append(item)
    return located, list(dict.fromkeys(notes))


def geocode_keys(areas: list[LocatedArea]) -> set[tuple[str, str]]:
    """The (scheme, code) pairs the areas use, to load only those shapes."""
    return {(g.value_name, g.value) for item in areas for g in item.area.geocodes}
