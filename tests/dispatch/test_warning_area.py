"""Warning area coordinates: the CAP polygon reaches a JSON CBC as WAC phones can geofence on."""

from __future__ import annotations

import math

import httpx
import pydantic
import pytest
from shapely import Point, Polygon

from channels.cbs.wac_decoder import decode_warning_area
from channels.simulators.cbc import CbcSimulator
from service.cap.model import CapArea, CapInfo
from service.context import AppContext
from service.dispatch.content import warning_area_of
from service.network.channels import CellBroadcastSettings
from service.worker import running_worker
from tests.dispatch.conftest import channels_for, make_network
from tests.dispatch.test_dispatch_e2e import FAR, NAIROBI_POLYGON, eventually, post
from tests.service.capdocs import cap_alert
from tests.service.conftest import Keys

pytestmark = pytest.mark.timeout(60)


async def test_the_alert_polygon_travels_as_warning_area_coordinates(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys, cbc_sim: CbcSimulator
) -> None:
    channels = channels_for([cbc_sim.base_url], None)
    assert channels.cell_broadcast is not None
    waiting = channels.cell_broadcast.model_copy(update={"warning_area_max_wait_s": 30})
    channels = channels.model_copy(update={"cell_broadcast": waiting})
    await make_network(app_context, "geofenced", channels)
    async with running_worker(app_context):
        await post(api, keys, cap_alert("wa-1", expires=FAR, polygon=NAIROBI_POLYGON))
        (live,) = await eventually(lambda: list(cbc_sim.jobs.values()))
    assert live.job.warning_area_coordinates is not None
    area = decode_warning_area(bytes.fromhex(live.job.warning_area_coordinates))
    assert area.max_wait_s == 30  # the operator's setting rides with the coordinates
    assert area.circles == ()
    (ring,) = area.polygons
    expected = [(-1.2, 36.8), (-1.2, 36.9), (-1.3, 36.9), (-1.3, 36.8)]
    assert len(ring) == len(expected)
    for (lat, lon), (want_lat, want_lon) in zip(ring, expected, strict=True):
        assert abs(lat - want_lat) < 1e-4  # the 22-bit grid: ~5 m
        assert abs(lon - want_lon) < 1e-4


def _info(*areas: CapArea) -> CapInfo:
    return CapInfo(
        event="Flood",
        urgency="Immediate",
        severity="Severe",
        certainty="Observed",
        areas=list(areas),
    )


WEST = [(-1.2, 36.8), (-1.2, 36.85), (-1.3, 36.85), (-1.3, 36.8), (-1.2, 36.8)]


def test_circles_travel_too_and_every_area_needs_a_shape() -> None:
    circle = CapArea("Town", circles=[(-1.25, 36.95, 2.5)])
    wac = warning_area_of(_info(CapArea("West", polygons=[WEST]), circle), 1024)
    assert wac is not None
    area = decode_warning_area(wac)
    assert len(area.polygons) == 1
    ((lat, lon, radius),) = area.circles
    assert (round(lat, 3), round(lon, 3), round(radius, 2)) == (-1.25, 36.95, 2.5)
    # An area given by geocodes only cannot be geofenced: no WAC, or phones there stay silent.
    county = CapArea("County", geocodes=[("NUTS", "KE047")])
    assert warning_area_of(_info(CapArea("West", polygons=[WEST]), county), 1024) is None
    assert warning_area_of(_info(county), 1024) is None


def test_a_polygon_across_the_antimeridian_sends_no_coordinates() -> None:
    fiji = [(-16.0, 179.5), (-16.0, -179.8), (-17.0, -179.8), (-17.0, 179.5), (-16.0, 179.5)]
    assert warning_area_of(_info(CapArea("Fiji", polygons=[fiji])), 1024) is None


def test_a_detailed_polygon_is_simplified_outward_to_the_budget() -> None:
    ring = [
        (
            -1.25 + 0.05 * math.sin(2 * math.pi * k / 300),
            36.85 + 0.05 * math.cos(2 * math.pi * k / 300),
        )
        for k in range(300)
    ]
    wac = warning_area_of(_info(CapArea("Round", polygons=[[*ring, ring[0]]])), 64)
    assert wac is not None
    assert len(wac) <= 64
    (coarse,) = decode_warning_area(wac).polygons
    covered = Polygon([(lon, lat) for lat, lon in coarse]).buffer(1e-4)
    assert all(covered.contains(Point(lon, lat)) for lat, lon in ring)  # outward only


def test_the_maximum_wait_element_is_sent_when_configured() -> None:
    info = _info(CapArea("West", polygons=[WEST]))
    assert decode_warning_area(warning_area_of(info, 1024) or b"").max_wait_s is None
    wac = warning_area_of(info, 1024, max_wait_s=30)
    assert wac is not None
    assert wac.startswith(bytes.fromhex("100C1E"))  # telecom.md §5 vector 10: max wait 30
    assert decode_warning_area(wac).max_wait_s == 30


def _settings(**changes: object) -> CellBroadcastSettings:
    endpoint = {"kind": "osmo-ecbe", "name": "c", "config": {"base_url": "http://cbc"}}
    data = {"profile": {"profile": "eu-alert"}, "endpoints": [endpoint], **changes}
    return CellBroadcastSettings.model_validate(data)


def test_the_budget_and_maximum_wait_settings_match_what_the_encoder_takes() -> None:
    for budget in (16, 31):
        with pytest.raises(pydantic.ValidationError, match="greater than or equal to 32"):
            _settings(warning_area_budget_octets=budget)
    smallest = _settings(warning_area_budget_octets=32, warning_area_max_wait_s=255)
    wac = warning_area_of(
        _info(CapArea("West", polygons=[WEST])),
        smallest.warning_area_budget_octets,
        smallest.warning_area_max_wait_s,
    )
    assert wac is not None
    assert len(wac) <= 32
    assert decode_warning_area(wac).max_wait_s == 255
    assert _settings().warning_area_max_wait_s is None
    for wait in (-1, 256):
        with pytest.raises(pydantic.ValidationError):
            _settings(warning_area_max_wait_s=wait)
