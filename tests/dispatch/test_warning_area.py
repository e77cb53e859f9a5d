"""Warning area coordinates: the CAP polygon reaches a JSON CBC as WAC phones can geofence on."""

from __future__ import annotations

import httpx
import pytest

from channels.cbs.wac_decoder import decode_warning_area
from channels.simulators.cbc import CbcSimulator
from service.context import AppContext
from service.worker import running_worker
from tests.dispatch.conftest import channels_for, make_network
from tests.dispatch.test_dispatch_e2e import FAR, NAIROBI_POLYGON, eventually, post
from tests.service.capdocs import cap_alert
from tests.service.conftest import Keys

pytestmark = pytest.mark.timeout(60)


async def test_the_alert_polygon_travels_as_warning_area_coordinates(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys, cbc_sim: CbcSimulator
) -> None:
    await make_network(app_context, "geofenced", channels_for([cbc_sim.base_url], None))
    async with running_worker(app_context):
        await post(api, keys, cap_alert("wa-1", expires=FAR, polygon=NAIROBI_POLYGON))
        (live,) = await eventually(lambda: list(cbc_sim.jobs.values()))
    assert live.job.warning_area_coordinates is not None
    area = decode_warning_area(bytes.fromhex(live.job.warning_area_coordinates))
    assert area.circles == ()
    (ring,) = area.polygons
    expected = [(-1.2, 36.8), (-1.2, 36.9), (-1.3, 36.9), (-1.3, 36.8)]
    assert len(ring) == len(expected)
    for (lat, lon), (want_lat, want_lon) in zip(ring, expected, strict=True):
        assert abs(lat - want_lat) < 1e-4  # the 22-bit grid: ~5 m
        assert abs(lon - want_lon) < 1e-4
