"""Operators and cell inventories over the API, on every backend."""

from __future__ import annotations

import httpx
from sqlalchemy import func
from sqlmodel import select

from service.context import AppContext
from service.db import transaction
from service.network.models import CellInventory, CellInventoryData, Operator
from tests.service.conftest import Keys
from tests.service.geo_fixtures import cells_csv, make_operator

CSV = {"Content-Type": "text/csv"}


async def count(context: AppContext, model: type) -> int:
    async with transaction(context.sessions) as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def test_admin_creates_and_lists_operators(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    body = {"id": "airtel-ke", "name": "Airtel Kenya", "mcc": "639", "mnc": "03", "country": "KE"}
    created = await client.post("/api/v1/operators", json=body, headers=keys.admin)
    assert created.status_code == 201, created.text
    assert created.json()["inventory_version"] is None
    again = await client.post("/api/v1/operators", json=body, headers=keys.admin)
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/operator-exists"
    listed = await client.get("/api/v1/operators", headers=keys.manager)
    assert [o["id"] for o in listed.json()] == ["airtel-ke"]
    one = await client.get("/api/v1/operators/airtel-ke", headers=keys.admin)
    assert one.json()["name"] == "Airtel Kenya"
    missing = await client.get("/api/v1/operators/nope", headers=keys.admin)
    assert missing.status_code == 404


async def test_bad_operator_fields_are_each_named_and_nothing_stored(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    body = {"id": "Bad Id", "name": "x", "mcc": "63", "mnc": "2", "country": "ke"}
    response = await client.post("/api/v1/operators", json=body, headers=keys.admin)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    paths = {e["path"] for e in response.json()["errors"]}
    assert paths == {"/id", "/mcc", "/mnc", "/country"}
    assert await count(context, Operator) == 0


async def test_only_admins_create_operators(client: httpx.AsyncClient, keys: Keys) -> None:
    body = {"id": "x", "name": "x", "mcc": "639", "mnc": "02", "country": "KE"}
    response = await client.post("/api/v1/operators", json=body, headers=keys.manager)
    assert response.status_code == 403


async def test_operator_imports_its_own_inventory_as_new_versions(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    headers = await make_operator(context)
    url = "/api/v1/operators/safaricom/cells"
    empty = await client.get(url, headers=headers)
    assert empty.json()["version"] is None
    first = await client.put(url, content=cells_csv(), headers={**headers, **CSV})
    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["version"], report["cells"], report["rejected"]) == (1, 5, 0)
    assert report["by_technology"] == {"2G": 1, "3G": 1, "4G": 2, "5G": 1}
    second = await client.put(url, content=cells_csv()[:-1], headers={**headers, **CSV})
    assert second.json()["version"] == 2
    summary = (await client.get(url, headers=headers)).json()
    assert summary["version"] == 2
    assert summary["cells"] == 5
    assert summary["imported_at"] is not None
    assert (await client.get("/api/v1/operators/safaricom", headers=headers)).json()[
        "inventory_version"
    ] == 2
    assert await count(context, CellInventoryData) == 2


async def test_bad_rows_are_reported_by_line_and_the_rest_imported(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    headers = await make_operator(context)
    extra = "bad-1,4G,200,0,,,1000,\nbad-2,4G,10,50,10,,1000,\n"
    response = await client.put(
        "/api/v1/operators/safaricom/cells",
        content=cells_csv(extra=extra),
        headers={**keys.admin, **CSV},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["rows"], body["accepted"], body["rejected"]) == (7, 5, 2)
    assert [e["line"] for e in body["errors"]] == [7, 8]
    assert "lon/lat out of range" in body["errors"][0]["message"]
    assert "azimuth and beamwidth" in body["errors"][1]["message"]
    summary = await client.get("/api/v1/operators/safaricom/cells", headers=headers)
    assert summary.json()["rejected_rows"] == 2


async def test_strict_or_unusable_files_are_refused_and_nothing_stored(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    headers = {**(await make_operator(context)), **CSV}
    url = "/api/v1/operators/safaricom/cells"
    strict = await client.put(
        url + "?strict=true", content=cells_csv(extra="x,9G,1,1,,,5,\n"), headers=headers
    )
    assert strict.status_code == 422
    assert strict.json()["type"] == "/problems/invalid-inventory"
    assert strict.json()["errors"] == [
        {"line": 7, "message": "unknown technology '9G' (expected 2G, 3G, 4G or 5G)"}
    ]
    header = await client.put(url, content=b"id,tech\n1,4G\n", headers=headers)
    assert header.status_code == 422
    assert "bad header" in header.json()["detail"]
    geojson = await client.put(
        url,
        content=b'{"type": "Feature"',
        headers={**headers, "Content-Type": "application/geo+json"},
    )
    assert geojson.status_code == 422
    media = await client.put(url, content=b"x", headers={**headers, "Content-Type": "image/png"})
    assert media.status_code == 415
    assert await count(context, CellInventory) == 0


async def test_opencellid_and_geojson_formats(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    headers = await make_operator(context)
    url = "/api/v1/operators/safaricom/cells"
    ocid = (
        "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal\n"
        "LTE,639,2,100,7,0,36.85,-1.25,1500,3,1,0,0,0\n"
        "GSM,639,2,100,8,0,36.86,-1.26,abc,3,1,0,0,0\n"
    )
    response = await client.put(
        url + "?format=opencellid", content=ocid.encode(), headers={**headers, **CSV}
    )
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    assert body["errors"][0]["line"] == 3
    feature = (
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        '{"cell_id":"g1","technology":"5G","range_m":800},'
        '"geometry":{"type":"Point","coordinates":[36.85,-1.25]}}]}'
    )
    response = await client.put(
        url, content=feature.encode(), headers={**headers, "Content-Type": "application/geo+json"}
    )
    assert response.json()["by_technology"] == {"5G": 1}


async def test_operator_keys_are_bound_to_their_operator(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    mine = await make_operator(context, "safaricom")
    await make_operator(context, "airtel")
    other = await client.put(
        "/api/v1/operators/airtel/cells", content=cells_csv(), headers={**mine, **CSV}
    )
    assert other.status_code == 403
    assert other.json()["type"] == "/problems/forbidden"
    assert (await client.get("/api/v1/operators/airtel/cells", headers=mine)).status_code == 404
    listed = await client.get("/api/v1/operators", headers=mine)
    assert [o["id"] for o in listed.json()] == ["safaricom"]
    manager = await client.put(
        "/api/v1/operators/safaricom/cells", content=cells_csv(), headers={**keys.manager, **CSV}
    )
    assert manager.status_code == 403
    assert await count(context, CellInventory) == 0
