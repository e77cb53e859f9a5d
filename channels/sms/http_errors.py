"""HTTP outcomes as channel errors, the same way for every HTTP gateway.

429 and 5xx mean "later" (with the peer's Retry-After when it gave one),
other 4xx mean "never". A transport failure before the request could leave
(connection refused, connect timeout, no free connection) means "later" as
well: the gateway never saw it. Any other transport failure (a read or write
timeout, a connection dropped mid-request) is `OutcomeUnknown`: the gateway
may have taken the message.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from channels.errors import ChannelError, PermanentChannelError, TransientChannelError
from channels.sms.gateway import OutcomeUnknown

# Failures that happen before a byte of the request is sent.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def retry_after_seconds(response: httpx.Response, *, now: datetime | None = None) -> float | None:
    """The Retry-After header in seconds (delta-seconds or HTTP-date), None when absent or bad."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.replace(".", "", 1).isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def status_error(peer: str, response: httpx.Response) -> ChannelError:
    """The channel error for a non-2xx `response` from `peer`."""
    detail = f"{peer}: HTTP {response.status_code} {response.text.strip()[:200]!r}"
    if response.status_code == 429 or response.status_code >= 500:
        return TransientChannelError(detail, retry_after=retry_after_seconds(response))
    return PermanentChannelError(detail)


def transport_error(peer: str, exc: httpx.TransportError) -> TransientChannelError:
    """Not sent (worth retrying anywhere), or sent with no answer (`OutcomeUnknown`)."""
    kind = "timeout" if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
    if isinstance(exc, _NOT_SENT):
        return TransientChannelError(f"{peer}: {kind}: {exc}")
    return OutcomeUnknown(f"{peer}: {kind} after the request was sent: {exc}")
