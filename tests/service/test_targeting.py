"""Targeting: computed per operator after intake, idempotent, paged, mapped — every backend."""

from __future__ import annotations

import httpx
import pytest

from service.context import AppContext
from service.db import transaction
from service.network.targeting import TargetingError, compute_targeting
from tests.service.capdocs import cap_alert
from tests.service.conftest import Keys
from tests.service.geo_fixtures import SELECTED, cells_csv, make_operator

CSV = {"Content-Type": "text/csv"}


async def post_alert(client: httpx.AsyncClient, keys: Keys, body: bytes) -> str:
    response = await client.post("/api/v1/alerts", content=body, headers=keys.cap())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def compute(context: AppContext, alert_id: str) -> list[object]:
    async with transaction(context.sessions) as session:
        return list(await compute_targeting(session, context.cell_indexes, alert_id))


async def test_targeting_is_pending_then_computed_per_operator(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    headers = await make_operator(context)
    await make_operator(context, "airtel")  # no inventory yet
    put = await client.put(
        "/api/v1/operators/safaricom/cells", content=cells_csv(), headers={**headers, **CSV}
    )
    assert put.status_code == 200
    alert_id = await post_alert(client, keys, cap_alert("t-1"))
    url = f"/api/v1/alerts/{alert_id}/targeting"
    pending = (await client.get(url, headers=keys.manager)).json()
    assert pending == {"alert_id": alert_id, "state": "pending", "operators": []}
    rows = await compute(context, alert_id)
    assert len(rows) == 2
    body = (await client.get(url, headers=keys.manager)).json()
    assert body["state"] == "computed"
    airtel, safaricom = body["operators"]
    assert airtel["cells"] == []
    assert airtel["problems"] == ["operator 'airtel' has no cell inventory"]
    assert set(safaricom["cells"]) == SELECTED
    assert safaricom["inventory_version"] == 1
    assert safaricom["policy"] == "intersects"
    metrics = safaricom["metrics"]
    assert 120 < metrics["target_km2"] < 126  # 0.1° x 0.1° at the equator
    assert metrics["under_alert_km2"] > 0  # 2-3 km cells do not fill 11 km x 11 km
    assert metrics["overshoot_km2"] >= 0
    assert set(metrics) >= {"covered_km2", "overshoot_ratio", "overshoot_beyond_161m_km2"}


async def test_recomputing_for_the_same_inventory_changes_nothing(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    headers = await make_operator(context)
    url = "/api/v1/operators/safaricom/cells"
    await client.put(url, content=cells_csv(), headers={**headers, **CSV})
    alert_id = await post_alert(client, keys, cap_alert("t-2"))
    await compute(context, alert_id)
    first = (await client.get(f"/api/v1/alerts/{alert_id}/targeting", headers=keys.admin)).json()
    await compute(context, alert_id)
    again = (await client.get(f"/api/v1/alerts/{alert_id}/targeting", headers=keys.admin)).json()
    assert again == first  # same computed_at: the row was not rewritten
    index = context.cell_indexes.cached("safaricom")
    assert index is not None
    assert index.version == "safaricom:1"
    # A new inventory version: the index is swapped and the targeting recomputed.
    await client.put(url, content=cells_csv()[:-1], headers={**headers, **CSV})
    await compute(context, alert_id)
    moved = (await client.get(f"/api/v1/alerts/{alert_id}/targeting", headers=keys.admin)).json()
    assert moved["operators"][0]["inventory_version"] == 2
    assert moved["operators"][0]["computed_at"] != first["operators"][0]["computed_at"]
    swapped = context.cell_indexes.cached("safaricom")
    assert swapped is not None
    assert swapped.version == "safaricom:2"
    assert swapped is not index


async def test_cells_are_paged_per_operator(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    headers = await make_operator(context)
    await client.put(
        "/api/v1/operators/safaricom/cells", content=cells_csv(), headers={**headers, **CSV}
    )
    alert_id = await post_alert(client, keys, cap_alert("t-3"))
    await compute(context, alert_id)
    url = f"/api/v1/alerts/{alert_id}/targeting"
    first = await client.get(url, params={"operator": "safaricom", "limit": 1}, headers=headers)
    page = first.json()["operators"][0]
    assert len(page["cells"]) == 1
    assert page["cell_count"] == 2
    second = await client.get(url, params={"cursor": page["next_cursor"]}, headers=headers)
    rest = second.json()["operators"][0]
    assert set(page["cells"] + rest["cells"]) == SELECTED
    assert rest["next_cursor"] is None
    bad = await client.get(url, params={"cursor": "nonsense"}, headers=headers)
    assert bad.status_code == 400
    assert bad.json()["type"] == "/problems/invalid-cursor"


async def test_geojson_has_target_and_covered_areas(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    headers = await make_operator(context)
    await client.put(
        "/api/v1/operators/safaricom/cells", content=cells_csv(), headers={**headers, **CSV}
    )
    alert_id = await post_alert(client, keys, cap_alert("t-4"))
    await compute(context, alert_id)
    for url in (
        f"/api/v1/alerts/{alert_id}/targeting.geojson",
        f"/api/v1/alerts/{alert_id}/targeting?format=geojson",
    ):
        response = await client.get(url, headers=keys.manager)
        assert response.headers["content-type"] == "application/geo+json"
        features = response.json()["features"]
        assert [f["properties"]["role"] for f in features] == ["target", "covered"]
        target = features[0]["geometry"]["coordinates"][0]
        assert all(36.79 < lon < 36.91 and -1.31 < lat < -1.19 for lon, lat in target)
        assert features[1]["properties"]["operator"] == "safaricom"
        assert features[1]["properties"]["cells"] == 2


async def test_agencies_see_only_their_alerts_targeting(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    from tests.service.conftest import make_keys

    other = await make_keys(context, ["other@example.org"])
    alert_id = await post_alert(client, keys, cap_alert("t-5"))
    response = await client.get(f"/api/v1/alerts/{alert_id}/targeting", headers=other.sender)
    assert response.status_code == 404
    with pytest.raises(TargetingError):
        await compute(context, "no-such-alert")


async def test_unknown_geocode_only_area_is_reported_untargetable(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    headers = await make_operator(context)
    await client.put(
        "/api/v1/operators/safaricom/cells", content=cells_csv(), headers={**headers, **CSV}
    )
    body = cap_alert("t-6").replace(
        b"<polygon>-1.2,36.8 -1.2,36.9 -1.3,36.9 -1.3,36.8 -1.2,36.8</polygon>",
        b"<geocode><valueName>KE-COUNTY</valueName><value>047</value></geocode>",
    )
    alert_id = await post_alert(client, keys, body)
    (row,) = await compute(context, alert_id)
    assert row.cells == []  # type: ignore[attr-defined]
    problems = row.problems  # type: ignore[attr-defined]
    assert "/alert/info[1]/area[1]: area 'Nairobi river basin' cannot be targeted" in problems[0]
    assert "KE-COUNTY=047" in problems[0]


async def test_provider_reuses_the_index_file_after_a_restart(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    from service.network.index_provider import CellIndexProvider

    headers = await make_operator(context)
    await client.put(
        "/api/v1/operators/safaricom/cells", content=cells_csv(), headers={**headers, **CSV}
    )
    async with transaction(context.readers) as session:
        built = await context.cell_indexes.get(session, "safaricom")
        files = list((context.settings.data_dir / "cell-indexes").glob("*.npz"))
        restarted = CellIndexProvider(context.settings.data_dir / "cell-indexes")
        loaded = await restarted.get(session, "safaricom")
    assert built is not None
    assert loaded is not None
    assert len(files) == 1
    assert loaded.version == built.version == "safaricom:1"
    assert loaded.ids.tolist() == built.ids.tolist()


@pytest.mark.parametrize(
    ("second", "reason"),
    [
        ("<polygon>-1.2,36.8 -1.2,36.85 -1.2,36.9 -1.2,36.8</polygon>", "encloses no area"),
        ("<circle>-1.25,36.85 6000</circle>", "radius must be in (0, 5000] km"),
    ],
)
async def test_an_unusable_area_is_reported_and_the_others_still_targeted(
    client: httpx.AsyncClient, keys: Keys, context: AppContext, second: str, reason: str
) -> None:
    headers = await make_operator(context)
    await client.put(
        "/api/v1/operators/safaricom/cells", content=cells_csv(), headers={**headers, **CSV}
    )
    extra = f"<area><areaDesc>Broken</areaDesc>{second}</area>"
    body = cap_alert("t-bad").replace(b"</area>", b"</area>" + extra.encode(), 1)
    alert_id = await post_alert(client, keys, body)
    (row,) = await compute(context, alert_id)
    assert set(row.cells) == SELECTED  # type: ignore[attr-defined]
    assert 120 < row.metrics["target_km2"] < 126  # type: ignore[attr-defined]
    problems = row.problems  # type: ignore[attr-defined]
    named = [p for p in problems if p.startswith("/alert/info[1]/area[2]: area 'Broken'")]
    assert len(named) == 1, problems
    assert "cannot be targeted" in named[0]
    assert reason in named[0]
