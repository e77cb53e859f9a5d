"""Hostile and malformed input is refused with a clear error and fetches nothing."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from cap_samples import CAP11, alert_xml, replace_once

from service.cap import RejectionKind, validate_cap, verify_signature


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.requests.append(self.path)
        body = b'<!ENTITY % leak "gotcha">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def listening_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request it gets."""
    _RecordingHandler.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RecordingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _RecordingHandler.requests
    finally:
        server.shutdown()
        server.server_close()


def _with_doctype(subset: str, body: str = "<alert/>") -> bytes:
    return f'<?xml version="1.0"?>\n<!DOCTYPE alert [\n{subset}\n]>\n{body}'.encode()


BILLION_LAUGHS = _with_doctype(
    '<!ENTITY lol "lol">\n'
    + "\n".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
        for n in range(1, 10)
    ),
    "<alert>&lol9;</alert>",
)


def _assert_refused(data: bytes, kind: RejectionKind, fragment: str) -> None:
    result = validate_cap(data)
    assert not result.accepted
    assert result.kind is kind
    assert result.alert is None
    assert fragment in result.errors[0].message, result.errors


def test_billion_laughs_is_refused_without_expansion() -> None:
    _assert_refused(BILLION_LAUGHS, RejectionKind.HOSTILE, "DOCTYPE")


def test_external_entity_to_a_file_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    data = _with_doctype(
        f'<!ENTITY xxe SYSTEM "file://{secret}">',
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
        "<identifier>&xxe;</identifier></alert>",
    )
    result = validate_cap(data)
    assert result.kind is RejectionKind.HOSTILE
    assert "top secret" not in repr(result)


@pytest.mark.parametrize(
    "subset",
    [
        '<!ENTITY xxe SYSTEM "{url}/entity">',
        '<!ENTITY % remote SYSTEM "{url}/parameter-entity"> %remote;',
        '<!ENTITY % dtd SYSTEM "{url}/dtd"> %dtd; %leak;',
    ],
    ids=["general-entity", "parameter-entity", "parameter-entity-chain"],
)
def test_network_entities_are_refused_and_never_fetched(
    listening_server: tuple[str, list[str]], subset: str
) -> None:
    url, requests = listening_server
    data = _with_doctype(subset.format(url=url), "<alert>&xxe;</alert>")
    result = validate_cap(data)
    assert result.kind in (RejectionKind.HOSTILE, RejectionKind.NOT_XML)
    assert not result.accepted
    assert requests == []


def test_external_dtd_is_refused_and_never_fetched(listening_server: tuple[str, list[str]]) -> None:
    url, requests = listening_server
    data = f'<?xml version="1.0"?><!DOCTYPE alert SYSTEM "{url}/cap.dtd"><alert/>'.encode()
    _assert_refused(data, RejectionKind.HOSTILE, "DOCTYPE")
    verdict = verify_signature(data, [])
    assert not verdict.valid
    assert requests == []


def test_xinclude_is_refused_and_never_fetched(listening_server: tuple[str, list[str]]) -> None:
    url, requests = listening_server
    data = replace_once(
        alert_xml(),
        "<identifier>TOCSIN-TEST-1</identifier>",
        f'<identifier><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{url}/x"/>'
        "</identifier>",
    )
    _assert_refused(data, RejectionKind.HOSTILE, "XInclude")
    assert requests == []


def test_schema_location_hints_are_never_fetched(listening_server: tuple[str, list[str]]) -> None:
    url, requests = listening_server
    data = replace_once(
        alert_xml(),
        'xmlns="urn:oasis:names:tc:emergency:cap:1.2"',
        'xmlns="urn:oasis:names:tc:emergency:cap:1.2" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="urn:oasis:names:tc:emergency:cap:1.2 {url}/cap.xsd"',
    )
    assert validate_cap(data).accepted
    assert requests == []


def test_an_innocent_doctype_is_refused_too() -> None:
    _assert_refused(b"<!DOCTYPE alert><alert/>", RejectionKind.HOSTILE, "DOCTYPE")


def test_a_50_mb_body_is_refused_before_parsing() -> None:
    data = alert_xml().replace(b"<headline>", b"<headline>" + b"x" * 50_000_000, 1)
    _assert_refused(data, RejectionKind.TOO_LARGE, "limit is 5,000,000 bytes")


def test_the_size_limit_is_a_parameter() -> None:
    data = alert_xml()
    assert validate_cap(data, max_bytes=len(data)).accepted
    result = validate_cap(data, max_bytes=len(data) - 1)
    assert result.kind is RejectionKind.TOO_LARGE


def test_a_truncated_document_is_not_xml() -> None:
    data = alert_xml()
    _assert_refused(data[: len(data) // 2], RejectionKind.NOT_XML, "not well-formed")


@pytest.mark.parametrize("data", [b"", b"hello", b'{"alert": 1}', b"\x00\xff\xfe"])
def test_non_xml_is_refused(data: bytes) -> None:
    assert validate_cap(data).kind is RejectionKind.NOT_XML


def test_a_wrong_root_element_is_not_cap() -> None:
    data = b'<feed xmlns="http://www.w3.org/2005/Atom"/>'
    _assert_refused(data, RejectionKind.NOT_CAP, "root element is <feed>")
    assert validate_cap(data).errors[0].path == "/feed"


@pytest.mark.parametrize(
    "namespace", ["http://www.incident.com/cap/1.0", "urn:oasis:names:tc:emergency:cap:1.3", ""]
)
def test_an_alert_in_another_namespace_is_not_cap(namespace: str) -> None:
    data = alert_xml().replace(b"urn:oasis:names:tc:emergency:cap:1.2", namespace.encode())
    result = validate_cap(data)
    assert result.kind is RejectionKind.NOT_CAP
    assert result.errors[0].path == "/alert"


def test_utf16_documents_are_read() -> None:
    text = alert_xml(headline="x").decode().replace("UTF-8", "UTF-16")
    text = text.replace("Storm surge warning", "Sturmflut – évacuez")
    result = validate_cap(text.encode("utf-16"))
    assert result.accepted, result.errors
    assert result.alert is not None
    assert result.alert.infos[0].headline == "Sturmflut – évacuez"


def test_iso_8859_1_documents_are_read() -> None:
    text = alert_xml().decode().replace("UTF-8", "ISO-8859-1")
    text = text.replace("Storm surge warning", "Onde de tempête à Marseille")
    result = validate_cap(text.encode("iso-8859-1"))
    assert result.accepted, result.errors
    assert result.alert is not None
    assert result.alert.infos[0].headline == "Onde de tempête à Marseille"


def test_cap_1_1_namespace_is_recognised() -> None:
    result = validate_cap(alert_xml(namespace=CAP11, response_type="Monitor"))
    assert result.accepted, result.errors
    assert result.version is not None
    assert result.version.value == "1.1"
