"""Agency jurisdictions refuse alerts outside them at intake; geocodes resolve from the database."""

from __future__ import annotations

import httpx
from sqlalchemy import func
from sqlmodel import select

from service.alerts.models import Alert
from service.context import AppContext
from service.db import transaction
from service.network.targeting import compute_targeting
from tests.service.capdocs import cap_alert
from tests.service.conftest import Keys
from tests.service.geo_fixtures import SELECTED, cells_csv, make_operator

# Nairobi county, roughly: the capdocs polygon (-1.2..-1.3, 36.8..36.9) lies inside.
NAIROBI = {
    "type": "Polygon",
    "coordinates": [[[36.65, -1.45], [37.1, -1.45], [37.1, -1.15], [36.65, -1.15], [36.65, -1.45]]],
}
MOMBASA_POLYGON = "-4.0,39.6 -4.0,39.7 -4.1,39.7 -4.1,39.6 -4.0,39.6"


async def alerts(context: AppContext) -> int:
    async with transaction(context.sessions) as session:
        return int((await session.exec(select(func.count()).select_from(Alert))).one())


def two_areas(identifier: str, second_polygon: str) -> bytes:
    """The capdocs alert with a second area appended."""
    extra = f"<area><areaDesc>Second</areaDesc><polygon>{second_polygon}</polygon></area>"
    return cap_alert(identifier).replace(b"</area>", b"</area>" + extra.encode(), 1)


async def test_alert_outside_the_jurisdiction_is_refused_naming_the_area(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    url = f"/api/v1/agencies/{keys.agency_id}/jurisdiction"
    put = await client.put(url, json=NAIROBI, headers=keys.admin)
    assert put.status_code == 200, put.text
    assert 1500 < put.json()["km2"] < 2000
    inside = await client.post("/api/v1/alerts", content=cap_alert("j-1"), headers=keys.cap())
    assert inside.status_code == 201
    refused = await client.post(
        "/api/v1/alerts", content=two_areas("j-2", MOMBASA_POLYGON), headers=keys.cap()
    )
    assert refused.status_code == 403
    problem = refused.json()
    assert problem["type"] == "/problems/outside-jurisdiction"
    assert [e["path"] for e in problem["errors"]] == ["/alert/info[1]/area[2]"]
    assert "'Second'" in problem["errors"][0]["message"]
    assert await alerts(context) == 1  # nothing stored for the refused one
    # Just over the border, within the 1 km tolerance: accepted.
    edge = "-1.2,36.8 -1.2,37.105 -1.3,37.105 -1.3,36.8 -1.2,36.8"
    ok = await client.post(
        "/api/v1/alerts", content=cap_alert("j-3", polygon=edge), headers=keys.cap()
    )
    assert ok.status_code == 201, ok.text


async def test_jurisdiction_is_read_and_cleared_by_role(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    url = f"/api/v1/agencies/{keys.agency_id}/jurisdiction"
    assert (await client.put(url, json=NAIROBI, headers=keys.manager)).status_code == 403
    bad = await client.put(url, json={"type": "Polygon", "coordinates": []}, headers=keys.admin)
    assert bad.status_code == 422
    assert (await client.get(url, headers=keys.sender)).status_code == 404
    await client.put(url, json=NAIROBI, headers=keys.admin)
    assert (await client.get(url, headers=keys.sender)).json()["tolerance_m"] == 1000.0
    assert (await client.delete(url, headers=keys.admin)).status_code == 204
    far = await client.post(
        "/api/v1/alerts", content=cap_alert("j-4", polygon=MOMBASA_POLYGON), headers=keys.cap()
    )
    assert far.status_code == 201


async def test_area_above_the_hard_limit_is_refused_at_intake(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    square = "-1.2,36.8 -1.2,36.81 -1.21,36.81 -1.21,36.8 -1.2,36.8"
    many = "</polygon><polygon>".join([square] * 1001)  # the hard limit is 1,000 polygons
    response = await client.post(
        "/api/v1/alerts", content=cap_alert("j-5", polygon=many), headers=keys.cap()
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "/problems/area-too-complex"
    assert problem["errors"][0]["path"] == "/alert/info[1]"
    assert "1001 polygons" in problem["detail"]
    assert await alerts(context) == 0


def two_infos(identifier: str, polygons_each: int) -> bytes:
    """The capdocs alert with a second info (another language, another area)."""
    square = "-1.2,36.8 -1.2,36.81 -1.21,36.81 -1.21,36.8 -1.2,36.8"
    many = "</polygon><polygon>".join([square] * polygons_each)
    body = cap_alert(identifier, polygon=many).decode()
    start, end = body.index("<info>"), body.index("</info>") + len("</info>")
    second = body[start:end].replace("en-KE", "sw-KE").replace("Nairobi river basin", "Nairobi")
    return (body[:end] + second + body[end:]).encode()


async def test_hard_limit_counts_every_info_as_targeting_does(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    # 600 polygons per info passes a per-info count, but targeting unites both
    # infos' distinct areas (1,200 polygons) and would refuse it with no cells.
    response = await client.post(
        "/api/v1/alerts", content=two_infos("j-6", 600), headers=keys.cap()
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "/problems/area-too-complex"
    assert "1200 polygons and 6000 points" in problem["detail"]
    assert "1000 polygons" in problem["detail"]
    assert [e["path"] for e in problem["errors"]] == ["/alert/info[1]", "/alert/info[2]"]
    assert await alerts(context) == 0
    # The same area repeated in a second language counts once, as in targeting.
    same = cap_alert(
        "j-7",
        polygon="</polygon><polygon>".join(
            ["-1.2,36.8 -1.2,36.81 -1.21,36.81 -1.21,36.8 -1.2,36.8"] * 600
        ),
    ).decode()
    start, end = same.index("<info>"), same.index("</info>") + len("</info>")
    repeated = same[:end] + same[start:end].replace("en-KE", "sw-KE") + same[end:]
    accepted = await client.post("/api/v1/alerts", content=repeated.encode(), headers=keys.cap())
    assert accepted.status_code == 201, accepted.text


async def test_an_unusable_area_does_not_hide_the_others_from_the_jurisdiction(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    put = await client.put(
        f"/api/v1/agencies/{keys.agency_id}/jurisdiction", json=NAIROBI, headers=keys.admin
    )
    assert put.status_code == 200, put.text
    collinear = "-1.2,36.8 -1.2,36.85 -1.2,36.9 -1.2,36.8"  # accepted with a warning
    areas = (
        f"<area><areaDesc>Line</areaDesc><polygon>{collinear}</polygon></area>"
        f"<area><areaDesc>Second</areaDesc><polygon>{MOMBASA_POLYGON}</polygon></area>"
    )
    body = cap_alert("j-8").replace(b"</area>", b"</area>" + areas.encode(), 1)
    response = await client.post("/api/v1/alerts", content=body, headers=keys.cap())
    assert response.status_code == 403, response.text
    errors = response.json()["errors"]
    assert errors[0]["path"] == "/alert/info[1]/area[3]"  # Mombasa, outside Nairobi
    assert errors[1]["path"] == "/alert/info[1]/area[2]"
    assert "'Line' cannot be targeted" in errors[1]["message"]
    assert "not checked against the jurisdiction" in errors[1]["message"]
    assert await alerts(context) == 0


async def test_geocode_areas_resolve_through_imported_shapes(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    from service.areas.service import import_geocodes

    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "047"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[36.8, -1.3], [36.9, -1.3], [36.9, -1.2], [36.8, -1.2], [36.8, -1.3]]
                    ],
                },
            }
        ],
    }
    async with transaction(context.sessions) as session:
        assert await import_geocodes(session, "KE-County", collection, code_property="code") == 1
    headers = await make_operator(context)
    await client.put(
        "/api/v1/operators/safaricom/cells",
        content=cells_csv(),
        headers={**headers, "Content-Type": "text/csv"},
    )
    body = cap_alert("j-6").replace(
        b"<polygon>-1.2,36.8 -1.2,36.9 -1.3,36.9 -1.3,36.8 -1.2,36.8</polygon>",
        b"<geocode><valueName>ke-county</valueName><value>047</value></geocode>",
    )
    posted = await client.post("/api/v1/alerts", content=body, headers=keys.cap())
    async with transaction(context.sessions) as session:
        (row,) = await compute_targeting(session, context.cell_indexes, posted.json()["id"])
    assert set(row.cells) == SELECTED
    assert row.problems == []


async def test_an_accepted_alert_names_the_area_not_checked_against_the_jurisdiction(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    put = await client.put(
        f"/api/v1/agencies/{keys.agency_id}/jurisdiction", json=NAIROBI, headers=keys.admin
    )
    assert put.status_code == 200, put.text
    collinear = "-1.2,36.8 -1.2,36.85 -1.2,36.9 -1.2,36.8"
    area = f"<area><areaDesc>Line</areaDesc><polygon>{collinear}</polygon></area>"
    body = cap_alert("j-9").replace(b"</area>", b"</area>" + area.encode(), 1)
    response = await client.post("/api/v1/alerts", content=body, headers=keys.cap())
    assert response.status_code == 201, response.text
    notes = [w for w in response.json()["warnings"] if w["path"] == "/alert/info[1]/area[2]"]
    assert any("not checked against the jurisdiction" in w["message"] for w in notes), notes
