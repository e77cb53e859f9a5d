"""What a CBC checks in a request, as the simulator enforces it.

ECBE checks follow osmo-cbc's C parser (src/rest_api.c), error texts
included, so the adapter is tested against the same refusals a real osmo-cbc
gives. On top, both APIs decode every page with the independent decoder and
refuse what a phone would misread: that is what makes an encoding bug fail a
test loudly instead of passing as "201 Created" (as osmo-cbc itself would).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from channels.cbc.jobs import IDEMPOTENCY_HEADER, CbcJob, InvalidSignature, verify_request
from channels.cbs.decoder import PageDecodeError, decode_content, ends_in_zero_fill
from channels.cbs.wac_decoder import WacDecodeError, decode_warning_area

_GEO_SCOPES = {"cell_wide_immediate": 0, "plmn_wide": 1, "lac_sac_tac_wide": 2, "cell_wide": 3}
# osmo-cbc's decoded warning types, its 'earthquake_and_tsuname' typo included.
_WARNING_TYPES = {"earthquake": 0, "tsunami": 1, "earthquake_and_tsuname": 2, "test": 3, "other": 4}


class RequestRejected(Exception):
    """The CBC refuses the request with `status` and a plain-text reason."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


@dataclass(frozen=True)
class EcbeMessage:
    """An accepted ECBE message: identity, schedule and what phones would read."""

    message_id: int
    serial_number: int
    repetition_period: int
    num_of_bcast: int
    dcs: int | None
    texts: tuple[str, ...]
    language: str | None
    warning_type: int | None


def check_ecbe_message(body: bytes) -> EcbeMessage:
    """Parse and check a `POST /message` body.

    Raises:
        RequestRejected: 400 with osmo-cbc's text, or with the decoder's reason for a bad page.
    """
    try:
        data = json.loads(body)
    except ValueError:
        raise RequestRejected(400, "REST: No JSON Body") from None
    if not isinstance(data, dict):
        raise RequestRejected(400, "CBCMSG must be JSON object")
    if not isinstance(data.get("cbe_name"), str):
        raise RequestRejected(400, "CBCMSG 'cbe_name' is mandatory")
    if data.get("category", "normal") not in ("normal", "high_priority", "background"):
        raise RequestRejected(400, "CBCMSG 'category' unknown")
    repetition = _required(data, "repetition_period", 0, 4095, "CBCMSG 'repetiton_period'")
    count = _optional(data, "num_of_bcast", 0, 65535, "CBCMSG 'num_of_bcast'") or 0
    _optional(data, "warning_period_sec", 0, 65535, "CBCMSG 'warning_period_sec'")
    if "scope" not in data:
        raise RequestRejected(400, "CBCMSG 'scope' is mandatory")
    if not isinstance(data["scope"], dict) or "scope_plmn" not in data["scope"]:
        raise RequestRejected(400, "CBCMSG only 'scope_plmn' supported")
    smscb = data.get("smscb_message")
    if not isinstance(smscb, dict):
        raise RequestRejected(400, "CBCMSG 'smscb_message' is mandatory")
    serial = _serial(smscb.get("serial_nr"))
    message_id = _required(smscb, "message_id", 0, 65535, "message_id")
    payload = smscb.get("payload")
    if not isinstance(payload, dict):
        raise RequestRejected(400, "'payload' must be JSON object")
    dcs, texts, language, warning = _payload(payload)
    return EcbeMessage(message_id, serial, repetition, count, dcs, texts, language, warning)


def request_target(scope: Mapping[str, Any]) -> str:
    """The request target of an ASGI request as the client sent it: raw path and query."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(scope["path"])
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def check_signature(
    body: bytes,
    headers: Mapping[str, str],
    *,
    method: str,
    target: str,
    secret: str,
    now: float,
) -> None:
    """Verify a request's signature over method, target, Idempotency-Key and body.

    Raises:
        RequestRejected: 401 with the reason.
    """
    try:
        verify_request(secret, headers, body, method=method, target=target, now=now)
    except InvalidSignature as exc:
        raise RequestRejected(401, f"signature rejected: {exc}") from None


def check_job(
    body: bytes,
    headers: Mapping[str, str],
    *,
    method: str,
    target: str,
    secret: str,
    now: float,
) -> tuple[CbcJob, str]:
    """Verify, parse and check a job; returns the job and the text phones would show.

    Raises:
        RequestRejected: 401 for a bad signature; 400 for an invalid body, a
            key that differs from the Idempotency-Key header, or a bad page or WAC.
    """
    check_signature(body, headers, method=method, target=target, secret=secret, now=now)
    try:
        job = CbcJob.model_validate_json(body)
    except ValidationError as exc:
        raise RequestRejected(400, f"invalid job: {exc}") from None
    if headers.get(IDEMPOTENCY_HEADER) != job.key:
        raise RequestRejected(400, f"{IDEMPOTENCY_HEADER} must equal the job key {job.key!r}")
    if len(job.page_lengths) != len(job.pages):
        raise RequestRejected(400, "page_lengths must give one length per page")
    decoded = [
        _decode(bytes.fromhex(page), job.dcs, length, number)
        for number, (page, length) in enumerate(zip(job.pages, job.page_lengths, strict=True), 1)
    ]
    language = _one_language(decoded)
    if language != job.language:
        raise RequestRejected(
            400, f"language {job.language!r} differs from the pages' language {language!r}"
        )
    if job.warning_area_coordinates is not None:
        try:
            decode_warning_area(bytes.fromhex(job.warning_area_coordinates))
        except WacDecodeError as exc:
            raise RequestRejected(400, f"warning area coordinates: {exc}") from None
    return job, "".join(text for _, text in decoded)


def _optional(data: object, key: str, low: int, high: int, name: str) -> int | None:
    value = data.get(key) if isinstance(data, dict) else None
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise RequestRejected(400, f"{name} out of range")
    return value


def _required(data: object, key: str, low: int, high: int, name: str) -> int:
    value = _optional(data, key, low, high, name)
    if value is None:
        raise RequestRejected(400, f"{name} is mandatory")
    return value


def _serial(serial: object) -> int:
    if not isinstance(serial, dict):
        raise RequestRejected(400, "'serial_nr' must be present and an object")
    if "serial_nr_encoded" in serial:
        return _required(serial, "serial_nr_encoded", 0, 65535, "'serial_nr_encoded'")
    decoded = serial.get("serial_nr_decoded")
    if not isinstance(decoded, dict):
        raise RequestRejected(
            400, "Either 'serial_nr_encoded' or 'serial_nr_decoded' are mandatory"
        )
    scope = _GEO_SCOPES.get(decoded.get("geo_scope", ""))
    if scope is None:
        raise RequestRejected(400, "'geo_scope' is invalid")
    code = _required(decoded, "msg_code", 0, 1023, "'msg_code'")
    update = _required(decoded, "update_nr", 0, 15, "'update_nr'")
    return (scope << 14) | (code << 4) | update


def _payload(payload: dict[str, Any]) -> tuple[int | None, tuple[str, ...], str | None, int | None]:
    if "payload_encoded" in payload:
        encoded = payload["payload_encoded"]
        dcs = _required(encoded, "dcs", 0, 255, "'dcs'")
        pages = encoded.get("pages") if isinstance(encoded, dict) else None
        if not isinstance(pages, list) or not 1 <= len(pages) <= 15:
            raise RequestRejected(400, "'pages' array size out of range")
        decoded = [_page(page, dcs, number) for number, page in enumerate(pages, 1)]
        return dcs, tuple(text for _, text in decoded), _one_language(decoded), None
    if "payload_etws" in payload:
        return None, (), None, _warning_type(payload["payload_etws"])
    if "payload_decoded" in payload:
        raise RequestRejected(
            400, "simulator: payload_decoded is mis-encoded by osmo-cbc; send payload_encoded"
        )
    raise RequestRejected(
        400, "'payload_type_encoded', 'payload_type_decoded' or 'payload_etws' must be present"
    )


def _one_language(decoded: list[tuple[str | None, str]]) -> str | None:
    """The language all pages carry; a message whose pages disagree is refused."""
    languages = [language for language, _ in decoded]
    if any(language != languages[0] for language in languages):
        raise RequestRejected(
            400, f"pages carry different languages {languages}: phones would mix them"
        )
    return languages[0]


def _page(page: object, dcs: int, number: int) -> tuple[str | None, str]:
    if not isinstance(page, str):
        raise RequestRejected(400, "'pages' array must contain strings")
    try:
        octets = bytes.fromhex(page)
    except ValueError:
        raise RequestRejected(400, "'pages' array must contain hex strings") from None
    if len(octets) != 82:
        raise RequestRejected(
            400,
            f"page {number} is {len(octets)} octets: osmo-cbc would fill it up with 0x00"
            " ('@' on phones); send full 82-octet pages",
        )
    language, text = _decode(octets, dcs, None, number)
    if ends_in_zero_fill(octets, dcs):
        raise RequestRejected(
            400,
            f"page {number} ends in 0x00 fill ('@@' or U+0000 on phones), not CR padding:"
            " pad every page with CR (telecom.md §2.4)",
        )
    return language, text


def _decode(octets: bytes, dcs: int, length: int | None, number: int) -> tuple[str | None, str]:
    try:
        return decode_content(octets, dcs, length)
    except PageDecodeError as exc:
        raise RequestRejected(
            400, f"page {number} would not read correctly on phones: {exc}"
        ) from None


def _warning_type(etws: object) -> int:
    warning = etws.get("warning_type") if isinstance(etws, dict) else None
    if not isinstance(warning, dict):
        raise RequestRejected(400, "'warning_type' must be object")
    if "warning_type_encoded" in warning:
        # 7 bits: the octet also carries the user-alert bit (TS 23.041 §9.3.24).
        return _required(warning, "warning_type_encoded", 0, 127, "'warning_type_encoded'")
    value = _WARNING_TYPES.get(str(warning.get("warning_type_decoded")))
    if value is None:
        raise RequestRejected(400, "'warning_type_decoded' is invalid")
    return value
