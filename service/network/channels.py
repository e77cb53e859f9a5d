"""An operator's channels: its cell broadcast centres and SMS gateways, in order of preference.

Stored as JSON on the operator row; validated here on the way in and out.
Secrets are stored as given (the database is trusted) and masked in API
responses (`public_view`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from channels.cbc import EcbeConfig, GenericCbcConfig
from channels.cbs.profiles import CmasProfile, CustomProfile, EuAlertProfile
from channels.cbs.wac import MIN_BUDGET_OCTETS
from channels.sms import HttpJsonConfig, KannelConfig, SmppConfig

DEFAULT_MAX_BROADCAST_HOURS = 22.5  # phones re-show warnings older than 24 h (public-warning.md)
DEFAULT_MAX_TEST_BROADCAST_HOURS = 4.0


class EcbeEndpoint(BaseModel):
    """An osmo-cbc reached through its ECBE REST API."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["osmo-ecbe"] = "osmo-ecbe"
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    config: EcbeConfig


class GenericCbcEndpoint(BaseModel):
    """A CBC gateway speaking Tocsin's signed JSON job API (docs/operators.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["generic-http"] = "generic-http"
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    config: GenericCbcConfig


CbcEndpoint = Annotated[EcbeEndpoint | GenericCbcEndpoint, Field(discriminator="kind")]
Profile = Annotated[CmasProfile | EuAlertProfile | CustomProfile, Field(discriminator="profile")]


class CellBroadcastSettings(BaseModel):
    """How this operator's network takes cell broadcast."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    profile: Profile
    endpoints: list[CbcEndpoint] = Field(min_length=1, description="tried in order")
    repetition_period_s: int = Field(default=60, ge=1, le=4095)
    max_broadcast_hours: float = Field(default=DEFAULT_MAX_BROADCAST_HOURS, gt=0, le=24)
    max_test_broadcast_hours: float = Field(default=DEFAULT_MAX_TEST_BROADCAST_HOURS, gt=0, le=24)
    warning_area_budget_octets: int = Field(default=1024, ge=MIN_BUDGET_OCTETS, le=1024)
    warning_area_max_wait_s: int | None = Field(
        default=None,
        ge=0,
        le=255,
        description="WAC maximum-wait element (type 1), seconds; 255 = device default;"
        " None sends no element",
    )


class KannelGateway(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["kannel"] = "kannel"
    config: KannelConfig


class SmppGateway(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["smpp"] = "smpp"
    config: SmppConfig


class HttpJsonGateway(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["http-json"] = "http-json"
    config: HttpJsonConfig


SmsGatewayConfig = Annotated[
    KannelGateway | SmppGateway | HttpJsonGateway, Field(discriminator="kind")
]


class SmsSettings(BaseModel):
    """How warnings reach this operator's subscribers by SMS.

    `subscribers`: Tocsin selects opted-in subscribers in the area and sends
    one SMS each through `gateways` (tried in order). `operator`: one
    location job per alert carrying the cell list, through the first
    http-json gateway; the operator resolves recipients in its own network.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    mode: Literal["subscribers", "operator"] = "subscribers"
    gateways: list[SmsGatewayConfig] = Field(min_length=1)
    text_parameter: str | None = Field(
        default=None, description="CAP parameter valueName holding the SMS text, if any"
    )
    max_segments: int = Field(default=3, ge=1, le=255)
    batch_size: int = Field(default=1000, ge=1, le=1000)


class ChannelsConfig(BaseModel):
    """Everything Tocsin needs to reach one operator's network."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    cell_broadcast: CellBroadcastSettings | None = None
    sms: SmsSettings | None = None

    def stored(self) -> dict[str, Any]:
        """The JSON kept on the operator row, secrets included."""
        revealed = _reveal(self.model_dump(mode="python"))
        assert isinstance(revealed, dict)
        return revealed

    def public_view(self) -> dict[str, Any]:
        """The JSON shown by the API: secrets masked."""
        return self.model_dump(mode="json")


def _reveal(value: Any) -> Any:
    """Replace SecretStr by its value, recursively, so the JSON column keeps it."""
    if hasattr(value, "get_secret_value"):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {key: _reveal(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_reveal(item) for item in value]
    return value
