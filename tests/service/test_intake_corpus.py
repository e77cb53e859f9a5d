"""Every corpus file gets its README verdict through the API, and hostile XML stores nothing."""

from __future__ import annotations

import base64
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from service.alerts.models import Alert
from service.audit.models import AuditEvent
from service.auth.models import Agency
from service.context import AppContext
from service.db import transaction
from tests.conftest import CORPUS
from tests.service.capdocs import cap_alert
from tests.service.conftest import Keys, make_keys
from tests.service.test_intake_api import count


def files(folder: str, pattern: str = "*.xml") -> list[Path]:
    return sorted((CORPUS / folder).glob(pattern))


def field(document: bytes, name: str) -> str:
    match = re.search(rb"<(?:\w+:)?%s>\s*([^<]*?)\s*</" % name.encode(), document)
    return match.group(1).decode("utf-8", "replace") if match else ""


async def post_file(client: httpx.AsyncClient, keys: Keys, document: bytes) -> httpx.Response:
    return await client.post("/api/v1/alerts", content=document, headers=keys.cap())


async def post_referenced_alerts(client: httpx.AsyncClient, keys: Keys, document: bytes) -> None:
    """Store the alerts an Update or Cancel references, as the chain they were:
    the first an Alert, each later one an Update of the one before."""
    status = field(document, "status")
    own = ",".join(field(document, name) for name in ("sender", "identifier", "sent"))
    previous = None
    for n, triple in enumerate(field(document, "references").split()):
        sender, identifier, sent = triple.split(",")
        if triple == own:
            continue  # a real file that lists itself among its references
        stub = cap_alert(
            identifier,
            sender=sender,
            sent=sent,
            status=status,
            msg_type="Update" if previous else "Alert",
            references=previous,
            expires="2099-01-01T00:00:00+00:00",
            headline=f"stub {n}",
        )
        previous = triple
        response = await post_file(client, keys, stub)
        assert response.status_code in {200, 201}, response.text


async def keys_for(context: AppContext, documents: list[bytes], **options: object) -> Keys:
    referenced = {t.split(",")[0] for d in documents for t in field(d, "references").split()}
    senders = sorted({field(d, "sender") for d in documents} | referenced | {"test@tocsin.dev"})
    return await make_keys(context, senders, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", files("real"), ids=lambda p: p.name)
async def test_real_alerts_are_accepted(
    path: Path, client: httpx.AsyncClient, context: AppContext
) -> None:
    document = path.read_bytes()
    keys = await keys_for(context, [document])
    if field(document, "msgType") in {"Update", "Cancel"}:
        await post_referenced_alerts(client, keys, document)
    response = await post_file(client, keys, document)
    assert response.status_code == 201, response.text
    stored = await client.get(f"/api/v1/alerts/{response.json()['id']}/cap", headers=keys.manager)
    assert stored.content == document


@pytest.mark.parametrize("path", files("real-nonconforming"), ids=lambda p: p.name)
async def test_nonconforming_alerts_warn_by_default_and_fail_when_strict(
    path: Path, client: httpx.AsyncClient, context: AppContext
) -> None:
    document = path.read_bytes()
    strict = await keys_for(context, [document], strict_cap=True)
    refused = await post_file(client, strict, document)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"]
    lenient = await keys_for(context, [document])
    if field(document, "msgType") in {"Update", "Cancel"}:
        await post_referenced_alerts(client, lenient, document)
    accepted = await post_file(client, lenient, document)
    assert accepted.status_code == 201, accepted.text
    warnings = accepted.json()["warnings"]
    assert warnings
    assert all(w["path"].startswith("/alert") for w in warnings)


@pytest.mark.parametrize("path", files("invalid"), ids=lambda p: p.name)
async def test_invalid_alerts_are_refused_naming_the_element(
    path: Path, client: httpx.AsyncClient, context: AppContext
) -> None:
    document = path.read_bytes()
    keys = await keys_for(context, [document])
    response = await post_file(client, keys, document)
    assert 400 <= response.status_code < 500
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["errors"]
    # A path to the element at fault (an XSD posted as an alert is refused at its root, /schema).
    assert all(e["path"].startswith("/") and e["message"] for e in problem["errors"])
    assert await count(context, Alert) == 0


def embedded_certificate(document: bytes) -> str:
    match = re.search(rb"X509Certificate>([^<]+)<", document)
    assert match
    body = base64.encodebytes(base64.b64decode(b"".join(match.group(1).split()))).decode()
    return f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"


@pytest.mark.parametrize("path", files("signed", "*-valid.xml"), ids=lambda p: p.name)
async def test_signed_alerts_verify_and_tampered_ones_are_refused(
    path: Path, client: httpx.AsyncClient, context: AppContext
) -> None:
    valid = path.read_bytes()
    certificate = embedded_certificate(valid)
    prefix = path.name.removesuffix("valid.xml")
    variants = sorted(path.parent.glob(f"{prefix}*"))
    assert len(variants) == 5
    for variant in variants:
        document = variant.read_bytes()
        keys = await keys_for(
            context, [document], requires_signature=True, certificates_pem=[certificate]
        )
        response = await post_file(client, keys, document)
        if variant == path:
            assert response.status_code == 201, response.text
            assert response.json()["signature"] == "verified"
        else:
            assert response.status_code == 403, (variant.name, response.text)
            assert response.json()["type"].endswith("/signature-rejected")


async def test_signature_not_required_keeps_unverified_alerts(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    document = (CORPUS / "signed" / "bf-no_signature.xml").read_bytes()
    certificate = embedded_certificate((CORPUS / "signed" / "bf-valid.xml").read_bytes())
    keys = await keys_for(context, [document], certificates_pem=[certificate])
    response = await post_file(client, keys, document)
    assert response.status_code == 201
    assert response.json()["signature"] == "absent"


async def test_required_signature_with_no_trusted_certificate_refuses(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    """Creation refuses that combination; a row changed since must fail closed, not open."""
    document = (CORPUS / "signed" / "bf-valid.xml").read_bytes()
    certificate = embedded_certificate(document)
    keys = await keys_for(
        context, [document], requires_signature=True, certificates_pem=[certificate]
    )
    async with transaction(context.sessions) as session:
        agency = await session.get(Agency, keys.agency_id)
        assert agency is not None
        agency.certificates_pem = []
    response = await post_file(client, keys, document)
    assert response.status_code == 403, response.text
    assert response.json()["type"].endswith("/signature-rejected")
    assert await count(context, Alert) == 0


class Recorder(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Recorder.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"<x>fetched</x>")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def bait_server() -> Iterator[str]:
    """A local HTTP server an entity or XInclude might try to fetch from."""
    Recorder.hits = []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = HTTPServer(("127.0.0.1", port), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


def hostile_documents(bait: str) -> dict[str, bytes]:
    valid = cap_alert("h-1").decode()
    body = valid.split("?>", 1)[1]
    laughs = "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    return {
        "external entity (http)": (
            f'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY x SYSTEM '
            f'"{bait}/entity">]>' + body.replace("Flood", "&x;")
        ).encode(),
        "external entity (file)": (
            '<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY x SYSTEM '
            '"file:///etc/passwd">]>' + body.replace("Flood", "&x;")
        ).encode(),
        "billion laughs": (
            f'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY l0 "lol">{laughs}]>'
            + body.replace("Flood", "&l9;")
        ).encode(),
        "external DTD": (
            f'<?xml version="1.0"?><!DOCTYPE alert SYSTEM "{bait}/dtd">' + body
        ).encode(),
        "parameter entity": (
            f'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY % p SYSTEM '
            f'"{bait}/param"> %p;]>' + body
        ).encode(),
        "xinclude": body.replace(
            "<headline>Flood warning</headline>",
            f'<headline><xi:include xmlns:xi="http://www.w3.org/2001/XInclude"'
            f' href="{bait}/xi" parse="text"/></headline>',
        ).encode(),
        "truncated": valid.encode()[: len(valid) // 2],
        "not xml": b"\x00\x01 this is not XML",
    }


@pytest.mark.parametrize("case", list(hostile_documents("http://x")))
async def test_hostile_xml_is_refused_fetches_and_stores_nothing(
    case: str, bait_server: str, client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    response = await post_file(client, keys, hostile_documents(bait_server)[case])
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].rsplit("/", 1)[1] in {
        "hostile-xml",
        "malformed-xml",
        "invalid-cap",
    }
    assert Recorder.hits == []
    assert await count(context, Alert) == 0
    assert await count(context, AuditEvent) == 0


async def test_corpus_hostile_file_is_refused(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    response = await post_file(client, keys, (CORPUS / "hostile" / "xee.xml").read_bytes())
    assert response.status_code == 400
    assert response.json()["type"].endswith("/hostile-xml")
    assert await count(context, Alert) == 0


async def test_fifty_megabyte_body_is_refused_early(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    chunks_sent = 0

    async def body() -> object:
        nonlocal chunks_sent
        yield cap_alert("big")[:200]
        for _ in range(50):
            chunks_sent += 1
            yield b"x" * 1_000_000

    response = await client.post("/api/v1/alerts", content=body(), headers=keys.cap())
    assert response.status_code == 413
    assert chunks_sent < 50  # refused once the limit was passed, not after reading it all
    assert await count(context, Alert) == 0
