"""Why an intake or a decision was refused; the API maps each to a problem type."""

from __future__ import annotations

from collections.abc import Sequence

from service.cap import Issue


class IntakeError(Exception):
    """Base of refusals; `kind` names the problem type, `status` the HTTP status."""

    kind = "invalid-request"
    status = 400
    title = "Alert refused"

    def __init__(self, detail: str, errors: Sequence[Issue] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)


class CapRejectedError(IntakeError):
    """The document is not acceptable CAP; `kind`/`status` follow the rejection kind."""

    def __init__(self, detail: str, errors: Sequence[Issue], *, kind: str, status: int) -> None:
        super().__init__(detail, errors)
        self.kind = kind
        self.status = status
        self.title = {
            "invalid-cap": "Invalid CAP alert",
            "hostile-xml": "Forbidden XML construct",
            "malformed-xml": "Not well-formed XML",
            "not-cap": "Not a CAP alert",
            "payload-too-large": "Alert too large",
        }.get(kind, "Alert refused")


class SenderNotAllowedError(IntakeError):
    kind, status, title = "sender-not-allowed", 403, "Sender not allowed"


class SignatureRejectedError(IntakeError):
    kind, status, title = "signature-rejected", 403, "Signature rejected"


class IdentityConflictError(IntakeError):
    kind, status, title = "identity-conflict", 409, "Alert identity already used"


class UnknownReferenceError(IntakeError):
    kind, status, title = "unknown-reference", 404, "Referenced alert not found"


class AmbiguousReferenceError(IntakeError):
    kind, status, title = "ambiguous-reference", 400, "Ambiguous reference"


class ChainConflictError(IntakeError):
    kind, status, title = "chain-conflict", 422, "Update or Cancel not allowed on this chain"


class AlertNotFoundError(IntakeError):
    kind, status, title = "not-found", 404, "Alert not found"


class DecisionError(IntakeError):
    kind, status, title = "invalid-state", 409, "Not in a state that allows this"


class SelfApprovalError(IntakeError):
    kind, status, title = "self-approval", 403, "Approval by the submitter"


class OutsideJurisdictionError(IntakeError):
    kind, status, title = "outside-jurisdiction", 403, "Area outside the agency's jurisdiction"


class AreaTooComplexIntakeError(IntakeError):
    kind, status, title = "area-too-complex", 422, "Alert area too complex"
