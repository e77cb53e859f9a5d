"""Verifying the enveloped XML signature of a CAP alert against trusted certificates.

Policy (see docs/cap-validation.md):

- A signature counts only if it is a ``ds:Signature`` child of ``alert``
  whose single reference covers the whole document (``URI=""``), and it
  verifies cryptographically.
- The signing certificate must be one of the configured certificates, or be
  issued directly by one (a configured CA). A certificate merely embedded in
  ``KeyInfo`` proves nothing by itself: anyone can embed their own.
- A configured certificate is pinned trust: its validity dates are not
  enforced unless the caller passes ``verification_time`` (then the signing
  certificate must be valid at that moment). Operators rotate pinned
  certificates by configuration; archived alerts must still verify later.
- Whitespace between elements carries no meaning in CAP, and some signers
  (the WMO tooling behind the corpus' signed files) sign the document
  without indentation and publish it indented; a signature that verifies
  over the document with inter-element whitespace removed is accepted.
- Base64 in the signature must be canonical (zero padding bits), as the
  XML-DSig schema's base64Binary demands; a flipped padding bit is tampering.
- SHA-1 signatures (still used by Canada's NAAD) are refused unless the
  caller allows them for that sender.
- With several signatures (NAAD countersigns the agency's), one verifying
  signature suffices; each is checked with the others set aside, as well as
  in place, because a countersignature covers the first one but not vice versa.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, InvalidSignature
from signxml.verifier import SignatureConfiguration, XMLVerifier

from service.cap.hardened_xml import DEFAULT_MAX_BYTES, XmlRejected, parse_untrusted
from service.cap.model import SignatureVerdict
from service.cap.schema import XMLDSIG_NAMESPACE

_DS = f"{{{XMLDSIG_NAMESPACE}}}"
_BASE64_FIELDS = (("SignatureValue", "signature value"), ("DigestValue", "digest value"))


class _Unverified(Exception):
    """One signature did not verify; the message is the reason for the verdict."""


def _canonical_base64(text: str | None) -> bytes | None:
    """Decode base64, or return None unless it is canonical (as xs:base64Binary requires)."""
    compact = "".join((text or "").split())
    try:
        decoded = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    return decoded if base64.b64encode(decoded).decode("ascii") == compact else None


def _embedded_certificates(signature: etree._Element) -> list[x509.Certificate]:
    certificates = []
    for element in signature.iterfind(f"{_DS}KeyInfo/{_DS}X509Data/{_DS}X509Certificate"):
        der = _canonical_base64(element.text)
        if der is None:
            raise _Unverified("the certificate in KeyInfo is not valid base64; it was altered")
        try:
            certificates.append(x509.load_der_x509_certificate(der))
        except ValueError as error:
            raise _Unverified(f"the certificate in KeyInfo cannot be read: {error}") from error
    return certificates


def _check_form(signature: etree._Element) -> None:
    for local_name, label in _BASE64_FIELDS:
        for element in signature.iter(f"{_DS}{local_name}"):
            if _canonical_base64(element.text) is None:
                raise _Unverified(f"the {label} ({local_name}) is not valid base64; it was altered")
    references = list(signature.iterfind(f"{_DS}SignedInfo/{_DS}Reference"))
    if len(references) != 1 or references[0].get("URI") != "":
        raise _Unverified('the signature must have one reference covering the whole alert (URI="")')


def _is_trusted(certificate: x509.Certificate, trusted: Sequence[x509.Certificate]) -> bool:
    for anchor in trusted:
        if certificate == anchor:
            return True
        try:
            certificate.verify_directly_issued_by(anchor)
            return True
        except (ValueError, TypeError, CryptoInvalidSignature):
            continue
    return False


def _signing_candidates(
    signature: etree._Element, trusted: Sequence[x509.Certificate]
) -> list[x509.Certificate]:
    embedded = _embedded_certificates(signature)
    if not embedded:
        return list(trusted)
    candidates = [certificate for certificate in embedded if _is_trusted(certificate, trusted)]
    if not candidates:
        subject = embedded[0].subject.rfc4514_string()
        raise _Unverified(
            f"signed with certificate '{subject}', which is not a configured certificate"
        )
    return candidates


def _without_indentation(root: etree._Element) -> etree._Element:
    """A copy with whitespace-only text between elements removed (leaf text kept)."""
    copy = etree.fromstring(etree.tostring(root))
    for element in copy.iter():
        if len(element) == 0:
            continue
        if element.text is not None and not element.text.strip(" \t\r\n"):
            element.text = None
        for child in element:
            if child.tail is not None and not child.tail.strip(" \t\r\n"):
                child.tail = None
    return copy


def _variants(root: etree._Element, index: int) -> list[etree._Element]:
    """The document as signature ``index`` may have seen it.

    Alone (other signatures set aside) or, for the first of several, in
    place; each as received and without indentation.
    """
    alone = etree.fromstring(etree.tostring(root))
    signatures = alone.findall(f"{_DS}Signature")
    for position, other in enumerate(signatures):
        if position != index:
            alone.remove(other)
    documents = [alone, root] if index == 0 and len(signatures) > 1 else [alone]
    return [
        variant for document in documents for variant in (document, _without_indentation(document))
    ]


def _configuration(
    certificate: x509.Certificate, verification_time: datetime | None, allow_sha1: bool
) -> SignatureConfiguration:
    # signxml always checks validity dates; for pinned trust we ask it to check
    # at a moment the certificate was valid, which turns the check off.
    when = verification_time or certificate.not_valid_before_utc
    if not allow_sha1:
        return SignatureConfiguration(verification_time=when)
    return SignatureConfiguration(
        verification_time=when,
        signature_methods=frozenset(m for m in SignatureMethod if not m.name.startswith("HMAC")),
        digest_algorithms=frozenset(DigestAlgorithm),
    )


def _verify_one(
    root: etree._Element,
    index: int,
    trusted: Sequence[x509.Certificate],
    verification_time: datetime | None,
    allow_sha1: bool,
) -> x509.Certificate:
    signature = root.findall(f"{_DS}Signature")[index]
    _check_form(signature)
    reasons: list[str] = []
    for candidate in _signing_candidates(signature, trusted):
        config = _configuration(candidate, verification_time, allow_sha1)
        for document in _variants(root, index):
            try:
                XMLVerifier().verify(
                    document, x509_cert=candidate, validate_schema=False, expect_config=config
                )
                return candidate
            except InvalidDigest:
                reasons.append("the digest does not match: the alert was altered after signing")
            except InvalidCertificate as error:
                reasons.append(f"the certificate is not valid: {error}")
            except InvalidSignature:
                subject = candidate.subject.rfc4514_string()
                reasons.append(f"the signature value does not verify with certificate '{subject}'")
            except InvalidInput as error:
                reasons.append(f"the signature cannot be checked: {error}")
    raise _Unverified(min(reasons, key=_reason_rank))


def _reason_rank(reason: str) -> int:
    """Prefer the most telling reason when several attempts failed."""
    for rank, marker in enumerate(
        ("certificate is not valid", "cannot be checked", "digest", "value")
    ):
        if marker in reason:
            return rank
    return len(reason)


def _load_trusted(certificates_pem: Sequence[bytes]) -> list[x509.Certificate]:
    trusted: list[x509.Certificate] = []
    for pem in certificates_pem:
        trusted.extend(x509.load_pem_x509_certificates(pem))
    return trusted


def verify_signature(
    data: bytes,
    certificates_pem: Sequence[bytes],
    *,
    allow_sha1: bool = False,
    verification_time: datetime | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> SignatureVerdict:
    """Check the alert's enveloped signature against the configured certificates.

    ``certificates_pem`` are the sender's trusted certificates (PEM; a file
    may hold several). The document is parsed with the same hardening as
    ``validate_cap``; a document that fails that gets ``present=False``.

    Raises:
        ValueError: a configured certificate is not valid PEM (a
            configuration error, not a property of the alert).
    """
    trusted = _load_trusted(certificates_pem)
    try:
        root = parse_untrusted(data, max_bytes=max_bytes).getroot()
    except XmlRejected as rejection:
        return SignatureVerdict(
            False, False, f"the document was refused: {rejection.message}", None
        )
    count = len(root.findall(f"{_DS}Signature"))
    if count == 0:
        return SignatureVerdict(False, False, "the alert carries no XML signature", None)
    if not trusted:
        return SignatureVerdict(True, False, "no certificates are configured for this sender", None)
    reasons: list[str] = []
    for index in range(count):
        try:
            signer = _verify_one(root, index, trusted, verification_time, allow_sha1)
        except _Unverified as failure:
            reasons.append(str(failure) if count == 1 else f"signature {index + 1}: {failure}")
            continue
        return SignatureVerdict(True, True, None, signer.subject.rfc4514_string())
    return SignatureVerdict(True, False, "; ".join(reasons), None)
