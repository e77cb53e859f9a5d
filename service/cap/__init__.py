"""CAP 1.2 and 1.1: hardened parsing, validation and signature checks.

The public surface other packages use; everything else in this package is
an implementation detail.
"""

from service.cap.model import (
    CapAlert,
    CapArea,
    CapInfo,
    CapReference,
    CapVersion,
    Issue,
    RejectionKind,
    SignatureVerdict,
    ValidationResult,
)
from service.cap.signature import verify_signature
from service.cap.validation import check_cap_schema, read_accepted_cap, validate_cap

__all__ = [
    "CapAlert",
    "CapArea",
    "CapInfo",
    "CapReference",
    "CapVersion",
    "Issue",
    "RejectionKind",
    "SignatureVerdict",
    "ValidationResult",
    "check_cap_schema",
    "read_accepted_cap",
    "validate_cap",
    "verify_signature",
]
