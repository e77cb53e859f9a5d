"""Reading a request body with a size limit, for the endpoints that take raw bodies."""

from __future__ import annotations

from fastapi import Request

from service.problems import Problem


async def read_body(request: Request, max_bytes: int, too_large: Problem | None = None) -> bytes:
    """The body, refused with `too_large` (413 by default) past `max_bytes`.

    A declared Content-Length over the limit is refused before reading; the
    stream is read incrementally, so a huge body is refused after its first
    `max_bytes`, not after buffering all of it.
    """
    problem = too_large or Problem(
        413, "payload-too-large", "Body too large", f"at most {max_bytes} bytes"
    )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise problem
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise problem
    return bytes(body)
