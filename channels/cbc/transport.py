"""HTTP calls to a CBC, with every failure turned into a transient or permanent error.

Kept in one place so both adapters classify failures the same way: no answer
and 5xx/429 are worth retrying, any other refusal is not.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from channels.errors import ChannelError, PermanentChannelError, TransientChannelError


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str | httpx.URL,
    *,
    timeout_s: float,
    what: str,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request; a timeout or connection failure becomes `TransientChannelError`.

    The timeout is httpx's (connect, write, read and pool each), not an
    `asyncio.timeout`, so that httpx can close the connection cleanly.

    `what` names the operation in error messages ("osmo-cbc POST /message").

    Raises:
        TransientChannelError: no answer within `timeout`, or the connection failed or broke.
    """
    try:
        return await client.request(method, url, timeout=timeout_s, **kwargs)
    except httpx.TimeoutException as exc:
        raise TransientChannelError(f"{what}: no answer within {timeout_s:g} s") from exc
    except httpx.TransportError as exc:
        raise TransientChannelError(f"{what}: connection failed ({type(exc).__name__})") from exc


def status_error(response: httpx.Response, what: str) -> ChannelError:
    """The error for an unexpected status: transient for 408/425/429/5xx, permanent otherwise."""
    body = response.text.strip()[:300] or "(empty body)"
    message = f"{what}: HTTP {response.status_code}: {body}"
    if response.status_code in (408, 425, 429) or response.status_code >= 500:
        return TransientChannelError(message, retry_after=retry_after(response))
    return PermanentChannelError(message)


def retry_after(response: httpx.Response) -> float | None:
    """The Retry-After hint in seconds (delta-seconds or HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
