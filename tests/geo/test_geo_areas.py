"""Alert areas from CAP values: order, circles, antimeridian, geocodes, limits."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import shapely
from lxml import etree

from geo import (
    AreaTooComplexError,
    CapArea,
    Circle,
    ComplexityLimits,
    Geocode,
    GeocodeRegistry,
    UntargetableAreaError,
    build_alert_area,
    check_jurisdiction,
    parse_cap_circle,
    parse_cap_polygon,
)
from geo.antimeridian import merge
from geo.projection import area_km2

CORPUS = Path("/work/shared/corpus/cap")
NWS = (
    CORPUS
    / "real-nonconforming/noaa-2.49.0.1.840.0.9b5195e635069329b12a7c697fad5934d144784a.001.1.xml"
)
# Nairobi as a CAP polygon: "lat,lon" pairs.
NAIROBI = "-1.20,36.70 -1.20,36.95 -1.40,36.95 -1.40,36.70 -1.20,36.70"


def test_cap_polygon_is_lat_lon_not_lon_lat() -> None:
    area = build_alert_area([CapArea("Nairobi", (parse_cap_polygon("Nairobi", NAIROBI),))])
    centre = area.geometry.centroid
    assert 36.7 < centre.x < 36.95
    assert -1.4 < centre.y < -1.2
    assert 600 < area.km2 < 700


def test_circle_at_70_degrees_is_geodesic() -> None:
    area = build_alert_area([CapArea("Tromsø", circles=(parse_cap_circle("T", "70.0,19.0 10"),))])
    assert abs(area.km2 - math.pi * 100) / (math.pi * 100) < 0.01
    west, south, east, north = area.geometry.bounds
    assert (east - west) > 2.5 * (north - south)  # a degree of longitude is short up there


def test_circle_around_the_pole_covers_it() -> None:
    area = build_alert_area([CapArea("pole", circles=(Circle(89.8, 45.0, 60.0),))])
    assert abs(area.km2 - math.pi * 3600) / (math.pi * 3600) < 0.01
    assert shapely.contains_xy(area.geometry, -120.0, 89.9)
    assert area.geometry.is_valid


def test_polygon_crossing_the_antimeridian_is_split() -> None:
    fiji = ((-16.0, 179.0), (-16.0, -179.0), (-18.0, -179.0), (-18.0, 179.0), (-16.0, 179.0))
    area = build_alert_area([CapArea("Fiji", (fiji,))])
    assert area.geometry.geom_type == "MultiPolygon"
    assert shapely.contains_xy(area.geometry, [179.5, -179.5], [-17.0, -17.0]).all()
    assert not shapely.contains_xy(area.geometry, 0.0, -17.0)
    assert 40_000 < area.km2 < 50_000  # 2° x 2°, not a band around the world


def test_circle_near_the_antimeridian_is_split_and_whole() -> None:
    area = build_alert_area([CapArea("Tonga", circles=(Circle(-21.1, -179.9, 50.0),))])
    assert area.geometry.geom_type == "MultiPolygon"
    assert abs(area.km2 - math.pi * 2500) / (math.pi * 2500) < 0.01


def test_geocodes_resolve_and_unknown_only_areas_are_named() -> None:
    square = {
        "type": "Polygon",
        "coordinates": [[[10, 50], [11, 50], [11, 51], [10, 51], [10, 50]]],
    }
    registry = GeocodeRegistry.from_geojson(
        {
            "NUTS": {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {"code": "DE71"}, "geometry": square}
                ],
            }
        }
    )
    area = build_alert_area(
        [
            CapArea("Hessen south", geocodes=(Geocode("nuts", "DE71"), Geocode("NUTS", "XX99"))),
            CapArea("Nowhere", geocodes=(Geocode("EMMA_ID", "FOO"),)),
        ],
        registry=registry,
    )
    first, second = area.contributions
    assert first.geocodes_used == ("nuts=DE71",)
    assert first.geocodes_unknown == ("NUTS=XX99",)
    assert area.untargetable == ("Nowhere",)
    assert "cannot be targeted" in second.notes[0]
    with pytest.raises(UntargetableAreaError, match="Nowhere"):
        area.require_targetable()
    assert abs(area.km2 - first.km2) < 1e-9
    assert 7000 < area.km2 < 8000


@pytest.mark.parametrize(
    ("cap", "message"),
    [
        (CapArea("a", (((91.0, 0.0), (0.0, 1.0), (1.0, 1.0), (91.0, 0.0)),)), "outside lat"),
        (CapArea("b", (((0.0, 0.0), (0.0, 1.0), (0.0, 0.0)),)), "3 distinct"),
        (CapArea("c", (((0.0, 0.0), (0.0, 1.0), (0.0, 2.0), (0.0, 0.0)),)), "no area"),
        (CapArea("d", circles=(Circle(10.0, 10.0, 0.0),)), "radius"),
        (CapArea("e", circles=(Circle(10.0, 10.0, 6000.0),)), "radius"),
    ],
)
def test_bad_geometry_names_the_area_and_spares_the_others(cap: CapArea, message: str) -> None:
    good = CapArea("good", circles=(Circle(-1.3, 36.8, 5.0),))
    area = build_alert_area([good, cap])
    assert area.untargetable == (cap.description,)
    bad = area.contributions[1]
    assert message in bad.problems[0]
    assert message in bad.untargetable_reason()
    assert any(cap.description in w and message in w for w in area.warnings)
    assert area.km2 == pytest.approx(area.contributions[0].km2)  # the good area, whole
    with pytest.raises(UntargetableAreaError, match=repr(cap.description)):
        area.require_targetable()


def test_one_bad_polygon_of_an_area_is_reported_and_the_rest_of_it_kept() -> None:
    collinear = ((0.0, 0.0), (0.0, 1.0), (0.0, 2.0), (0.0, 0.0))
    square = ((1.0, 1.0), (1.0, 1.1), (1.1, 1.1), (1.1, 1.0), (1.0, 1.0))
    area = build_alert_area([CapArea("mixed", (collinear, square))])
    contribution = area.contributions[0]
    assert contribution.targetable
    assert contribution.problems == ("polygon 1 cannot be used: polygon encloses no area",)
    assert area.warnings == (
        "area 'mixed': polygon 1 cannot be used: polygon encloses no area; "
        "the rest of it is targeted",
    )
    assert 120 < area.km2 < 125


def test_merge_equals_union_all_of_touching_overlapping_and_apart_parts() -> None:
    boxes = [
        shapely.box(0, 0, 1, 1),
        shapely.box(1, 0, 2, 1),  # touches the first along an edge
        shapely.box(1.5, 0.5, 3, 2),  # overlaps the second
        shapely.box(5, 5, 6, 6),  # apart
        shapely.box(6, 6, 7, 7),  # touches the fourth at a corner
        shapely.box(10, 10, 11, 11),
    ]
    merged = merge(boxes)
    assert merged.is_valid
    assert shapely.equals(merged, shapely.union_all(boxes))
    assert merge([]).is_empty


def test_self_intersecting_polygon_is_repaired_and_reported() -> None:
    bowtie = ((0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0))
    area = build_alert_area([CapArea("bow", (bowtie,))])
    assert area.geometry.is_valid
    assert area.km2 > 5000
    assert "repaired" in area.contributions[0].notes[0]


def _ring(lat: float, lon: float, n: int, radius: float = 0.1) -> tuple[tuple[float, float], ...]:
    points = [
        (lat + radius * math.sin(2 * math.pi * k / n), lon + radius * math.cos(2 * math.pi * k / n))
        for k in range(n)
    ]
    return (*points, points[0])


def test_above_the_soft_limit_simplifies_outward_only() -> None:
    polygons = tuple(_ring(50.0 + 0.3 * k, 10.0, 40) for k in range(15))
    exact = build_alert_area(
        [CapArea("many", polygons)], limits=ComplexityLimits(soft_polygons=100, soft_points=10_000)
    )
    assert exact.simplification is None
    area = build_alert_area([CapArea("many", polygons)])
    report = area.simplification
    assert report is not None
    assert report.within_soft_limits
    assert report.polygons_before == 15
    assert report.points_after <= 250
    assert report.polygons_after <= 12
    assert shapely.covers(area.geometry, exact.geometry)  # nothing inside the target is lost
    assert area.original is not None
    assert shapely.equals(area.original, exact.geometry)
    assert area.sender_km2 == pytest.approx(exact.km2)
    assert report.added_km2 > 0
    assert any("simplified from 15 polygons" in w for w in area.warnings)
    assert "simplified" in report.describe()


def test_above_the_hard_limit_is_rejected_clearly() -> None:
    polygons = tuple(_ring(50.0, 10.0 + k * 0.01, 4) for k in range(11))
    with pytest.raises(AreaTooComplexError, match=r"11 polygons .* limit is 10 polygons"):
        build_alert_area([CapArea("x", polygons)], limits=ComplexityLimits(hard_polygons=10))
    big = (_ring(50.0, 10.0, 2000),)
    with pytest.raises(AreaTooComplexError, match=r"2001 points"):
        build_alert_area([CapArea("x", big)], limits=ComplexityLimits(hard_points=2000))


def test_real_212_polygon_nws_alert_is_accepted_and_simplified() -> None:
    ns = {"c": "urn:oasis:names:tc:emergency:cap:1.2"}
    tree = etree.parse(str(NWS))
    areas = []
    for element in tree.iterfind(".//c:area", ns):
        name = element.findtext("c:areaDesc", namespaces=ns) or ""
        polygons = tuple(
            parse_cap_polygon(name, p.text or "") for p in element.iterfind("c:polygon", ns)
        )
        areas.append(CapArea(name, polygons))
    assert sum(len(a.polygons) for a in areas) == 212
    area = build_alert_area(areas)
    assert area.simplification is not None
    assert area.simplification.points_before > 90_000
    assert area.simplification.within_soft_limits
    assert shapely.covers(area.geometry, areas_union(area))
    assert area.original is not None
    assert shapely.equals(area.original, areas_union(area))  # the sender's area, kept whole


def areas_union(area: object) -> object:
    return shapely.union_all([c.geometry for c in area.contributions])  # type: ignore[attr-defined]


def test_jurisdiction_names_areas_outside_beyond_tolerance() -> None:
    jurisdiction = {
        "type": "Polygon",
        "coordinates": [[[10, 50], [11, 50], [11, 51], [10, 51], [10, 50]]],
    }
    inside = CapArea("inside", (((50.2, 10.2), (50.2, 10.8), (50.8, 10.8), (50.2, 10.2)),))
    edge = CapArea("edge", (((50.2, 10.2), (50.2, 11.005), (50.8, 11.005), (50.2, 10.2)),))
    out = CapArea("out", (((50.2, 10.5), (50.2, 11.5), (50.8, 11.5), (50.2, 10.5)),))
    far = CapArea("far", circles=(Circle(-33.9, 151.2, 5.0),))
    check = check_jurisdiction(build_alert_area([inside, edge, out, far]), jurisdiction)
    assert [o.description for o in check.outside] == ["out", "far"]
    assert 1000 < check.outside[0].outside_km2 < 2000
    assert not check.ok
    assert abs(check.outside[1].outside_km2 - area_km2(build_alert_area([far]).geometry)) < 1e-6
