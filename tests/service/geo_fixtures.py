"""Helpers for the operator, inventory and targeting tests: operators, keys, cell files."""

from __future__ import annotations

import io

from geo import Cell, Omni, Sector, Technology, write_cells_csv
from service.auth import service as auth
from service.auth.models import Role
from service.context import AppContext
from service.db import transaction
from service.network import service as network

# Around the Nairobi polygon of tests/service/capdocs.py (lat -1.2..-1.3, lon 36.8..36.9).
NAIROBI_CELLS = [
    Cell("639-02-1-1", Technology.G4, 36.85, -1.25, Omni(2000.0)),
    Cell("639-02-1-2", Technology.G4, 36.85, -1.25, Sector(90.0, 65.0, 3000.0)),
    Cell("639-02-1-3", Technology.G2, 36.75, -1.25, Sector(270.0, 65.0, 3000.0)),  # faces away
    Cell("639-02-1-4", Technology.G3, 36.95, -1.35, Omni(500.0)),
    Cell("639-02-9-9", Technology.G5, 10.0, 50.0, Omni(1000.0)),  # Germany: never selected
]
SELECTED = {"639-02-1-1", "639-02-1-2"}


def cells_csv(cells: list[Cell] = NAIROBI_CELLS, extra: str = "") -> bytes:
    """A Tocsin cell CSV of `cells`, plus raw `extra` lines appended."""
    out = io.StringIO()
    write_cells_csv(cells, out)
    return (out.getvalue() + extra).encode()


async def make_operator(context: AppContext, operator_id: str = "safaricom") -> dict[str, str]:
    """An operator and a key bound to it; returns the key's headers."""
    async with transaction(context.sessions) as session:
        await network.create_operator(
            session,
            operator_id=operator_id,
            name=operator_id.title(),
            mcc="639",
            mnc="02",
            country="KE",
        )
        _key, minted = await auth.create_key(
            session, name=f"{operator_id}-noc", role=Role.OPERATOR, operator_id=operator_id
        )
    return {"Authorization": f"Bearer {minted.plaintext}"}
