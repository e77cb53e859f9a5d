"""Signature verdicts: the corpus, real Canadian signers, and our own signed alerts."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cap_samples import alert_xml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml.algorithms import SignatureMethod
from signxml.signer import XMLSigner

from service.cap import validate_cap, verify_signature

PREFIXES = ("bf", "sc", "tg")


def _embedded_certificate_pem(path: Path) -> bytes:
    """The certificate a corpus file embeds in KeyInfo, as the operator would configure it."""
    match = re.search(rb"X509Certificate>([^<]+)<", path.read_bytes())
    assert match is not None
    der = base64.b64decode(b"".join(match[1].split()))
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_corpus_valid_files_verify_with_their_own_certificate(
    cap_corpus: Path, prefix: str
) -> None:
    path = cap_corpus / "signed" / f"{prefix}-valid.xml"
    verdict = verify_signature(path.read_bytes(), [_embedded_certificate_pem(path)])
    assert verdict.present
    assert verdict.valid, verdict.reason
    assert verdict.reason is None
    assert verdict.signer_subject is not None
    assert verdict.signer_subject.startswith("CN=www.")
    assert validate_cap(path.read_bytes()).accepted


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    ("variant", "reason"),
    [
        ("invalid_certificate", "certificate in KeyInfo"),
        ("invalid_digest", "DigestValue"),
        ("invalid_signature", "SignatureValue"),
        ("no_signature", "no XML signature"),
    ],
)
def test_corpus_invalid_files_fail_with_a_reason(
    cap_corpus: Path, prefix: str, variant: str, reason: str
) -> None:
    trusted = _embedded_certificate_pem(cap_corpus / "signed" / f"{prefix}-valid.xml")
    data = (cap_corpus / "signed" / f"{prefix}-{variant}.xml").read_bytes()
    verdict = verify_signature(data, [trusted])
    assert not verdict.valid
    assert verdict.present == (variant != "no_signature")
    assert verdict.reason is not None
    assert reason in verdict.reason
    assert verdict.signer_subject is None


def test_a_valid_signature_by_someone_else_is_not_trusted(cap_corpus: Path) -> None:
    other = _embedded_certificate_pem(cap_corpus / "signed" / "sc-valid.xml")
    verdict = verify_signature((cap_corpus / "signed" / "tg-valid.xml").read_bytes(), [other])
    assert verdict.present
    assert not verdict.valid
    assert verdict.reason is not None
    assert "not a configured certificate" in verdict.reason


def test_content_altered_after_signing_is_detected(cap_corpus: Path) -> None:
    path = cap_corpus / "signed" / "sc-valid.xml"
    data = path.read_bytes()
    altered = re.sub(rb"<event>[^<]*</event>", b"<event>Nothing to see</event>", data, count=1)
    assert altered != data
    verdict = verify_signature(altered, [_embedded_certificate_pem(path)])
    assert not verdict.valid
    assert verdict.reason is not None
    assert "digest does not match" in verdict.reason


def test_expiry_is_enforced_only_when_asked(cap_corpus: Path) -> None:
    path = cap_corpus / "signed" / "sc-valid.xml"
    trusted = [_embedded_certificate_pem(path)]
    during = verify_signature(
        path.read_bytes(), trusted, verification_time=datetime(2024, 8, 1, tzinfo=UTC)
    )
    assert during.valid
    later = verify_signature(
        path.read_bytes(), trusted, verification_time=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert not later.valid
    assert later.reason is not None
    assert "expired" in later.reason


def test_canadian_alert_verifies_with_environment_canada_certificate_if_sha1_allowed(
    cap_corpus: Path,
) -> None:
    data = (cap_corpus / "real" / "ca-eccc-update-signed.xml").read_bytes()
    canada = (cap_corpus / "real" / "environment_canada_x509_cert.pem").read_bytes()
    naad = (cap_corpus / "real" / "naads_x509_cert.pem").read_bytes()
    refused = verify_signature(data, [canada, naad])
    assert not refused.valid
    assert refused.reason is not None
    assert "RSA_SHA1" in refused.reason
    verdict = verify_signature(data, [canada, naad], allow_sha1=True)
    assert verdict.valid, verdict.reason
    assert verdict.signer_subject is not None
    assert "O=Environment Canada" in verdict.signer_subject


def test_the_naad_countersignature_in_the_corpus_does_not_verify(cap_corpus: Path) -> None:
    # Upstream, the file was changed after NAAD signed it (digest and signature
    # value both mismatch); only Environment Canada's own signature survives.
    data = (cap_corpus / "real" / "ca-eccc-update-signed.xml").read_bytes()
    naad = (cap_corpus / "real" / "naads_x509_cert.pem").read_bytes()
    verdict = verify_signature(data, [naad], allow_sha1=True)
    assert not verdict.valid
    assert verdict.reason is not None
    assert verdict.reason.startswith("signature 1: the signature value")


def test_the_usgs_signature_in_the_corpus_does_not_verify(cap_corpus: Path) -> None:
    # KeyValue only (no certificate); it does not verify with either Canadian
    # certificate, nor with its own embedded key: the file was altered upstream.
    data = (cap_corpus / "real" / "us-usgs-earthquake-signed.xml").read_bytes()
    pems = [
        (cap_corpus / "real" / name).read_bytes()
        for name in ("environment_canada_x509_cert.pem", "naads_x509_cert.pem")
    ]
    verdict = verify_signature(data, pems, allow_sha1=True)
    assert verdict.present
    assert not verdict.valid


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None = None,
) -> x509.Certificate:
    issuer_name, issuer_key = issuer or (subject, key)
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _signed(key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> bytes:
    root = etree.fromstring(alert_xml())
    signer = XMLSigner(signature_algorithm=SignatureMethod.ECDSA_SHA256)
    signed = signer.sign(root, key=key, cert=[certificate])
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def test_our_own_signed_alert_verifies_against_a_pinned_certificate() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = _certificate("agency.example", key)
    data = _signed(key, certificate)
    result = validate_cap(data, strict=True)
    assert result.accepted
    assert result.alert is not None
    assert result.alert.has_signature
    verdict = verify_signature(data, [_pem(certificate)])
    assert verdict.valid
    assert verdict.signer_subject == "CN=agency.example"


def test_a_certificate_issued_by_a_configured_ca_is_trusted() -> None:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Warning CA", ca_key)
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer = _certificate("agency.example", signer_key, issuer=("Warning CA", ca_key))
    data = _signed(signer_key, signer)
    assert verify_signature(data, [_pem(ca)]).valid
    stranger = _certificate("Other CA", ec.generate_private_key(ec.SECP256R1()))
    assert not verify_signature(data, [_pem(stranger)]).valid


def test_no_configured_certificates_means_not_verified() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    verdict = verify_signature(_signed(key, _certificate("agency.example", key)), [])
    assert verdict.present
    assert not verdict.valid
    assert verdict.reason == "no certificates are configured for this sender"
