"""SMS text is cut to what every gateway that may send it accepts, not only the operator's cap."""

from __future__ import annotations

from channels.sms import HttpJsonConfig, KannelConfig, measure_sms
from service.cap import validate_cap
from service.dispatch.sms_send import _fitted, _texts, segment_budget
from service.network.channels import SmsSettings
from tests.service.capdocs import cap_alert

LONG = "Flood water is rising fast along the river; move to higher ground now. " * 8


def _settings(*, mode: str = "subscribers", json_cap: int = 1, bits: int = 8) -> SmsSettings:
    kannel = KannelConfig(
        name="k",
        sendsms_url="http://k/cgi-bin/sendsms",
        username="u",
        password="p",
        receipt_base_url="http://t",
        dlr_key="d",
        max_segments=4,
    )
    json = HttpJsonConfig(
        name="j", base_url="http://j", secret="s", max_segments=json_cap, reference_bits=bits
    )
    return SmsSettings.model_validate(
        {
            "mode": mode,
            "max_segments": 3,
            "gateways": [
                {"kind": "kannel", "config": kannel},
                {"kind": "http-json", "config": json},
            ],
        }
    )


def test_the_smallest_cap_of_the_gateways_wins() -> None:
    assert segment_budget(_settings(json_cap=1)) == (1, 8)
    assert segment_budget(_settings(json_cap=4)) == (3, 8)  # the operator's own cap
    assert segment_budget(_settings(json_cap=2, bits=16)) == (2, 16)
    assert segment_budget(_settings(mode="operator", json_cap=4)) == (3, 8)


def test_cap_texts_and_all_clear_texts_fit_every_gateway() -> None:
    result = validate_cap(cap_alert("seg-1", headline=LONG), strict=False, max_bytes=100_000)
    assert result.alert is not None
    settings = _settings(json_cap=1)
    for text in _texts(result.alert, settings).values():
        assert measure_sms(text, max_segments=1)[1] == 1
    (fitted,) = _fitted({"en": LONG}, settings).values()
    assert measure_sms(fitted, max_segments=1)[1] == 1
    assert fitted.endswith("...")
