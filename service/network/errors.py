"""Why a network request was refused; the API maps each to a problem type."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class NetworkError(Exception):
    """Base of refusals; `kind` names the problem type, `status` the HTTP status.

    `errors` are ``{"path" | "line", "message"}`` items pointing at the fault.
    """

    kind = "invalid-request"
    status = 422
    title = "Invalid request"

    def __init__(self, detail: str, errors: Sequence[Mapping[str, object]] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = [dict(e) for e in errors]


class InvalidOperatorError(NetworkError):
    kind, status, title = "invalid-request", 422, "Invalid operator"


class OperatorExistsError(NetworkError):
    kind, status, title = "operator-exists", 409, "Operator already exists"


class OperatorNotFoundError(NetworkError):
    kind, status, title = "not-found", 404, "Operator not found"


class InventoryRejectedError(NetworkError):
    """The file cannot become an inventory: unreadable, no valid cell, or strict and bad rows."""

    kind, status, title = "invalid-inventory", 422, "Cell inventory refused"


class InventoryTooLargeError(NetworkError):
    kind, status, title = "payload-too-large", 413, "Cell inventory too large"
