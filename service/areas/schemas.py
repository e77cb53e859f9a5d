"""What the jurisdiction API returns."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from service.areas.models import Jurisdiction


class JurisdictionOut(BaseModel):
    agency_id: str
    tolerance_m: float = Field(description="how far outside an area may reach unrefused")
    km2: float
    updated_at: dt.datetime
    geojson: dict[str, Any]

    @classmethod
    def of(cls, row: Jurisdiction) -> JurisdictionOut:
        return cls(
            agency_id=row.agency_id,
            tolerance_m=row.tolerance_m,
            km2=round(row.km2, 3),
            updated_at=row.updated_at,
            geojson=row.geojson,
        )
