"""The dashboard's HTTP side: the page and its assets, with a strict security policy.

The page is static; everything it shows comes from the JSON API with the key
the user typed in. CAP text is untrusted input, so the policy forbids inline
script and every origin but this one: even a rendering bug cannot run code.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import RedirectResponse, Response

from service.problems import Problem

router = APIRouter(tags=["dashboard"], include_in_schema=False)

STATIC = resources.files("service.web") / "static"
MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
}
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
Asset = Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]*\.(js|css)$")]


def _file(name: str) -> Response:
    """One file of `static/` with the security headers.

    Raises:
        Problem: 404, no such file (names are checked by the route's pattern).
    """
    source = STATIC / name
    if not source.is_file():
        raise Problem(404, "not-found", "Not found", f"the dashboard has no file '{name}'")
    media_type = MEDIA_TYPES[name.rsplit(".", 1)[1]]
    return Response(source.read_bytes(), media_type=media_type, headers=SECURITY_HEADERS)


@router.get("/")
async def root() -> RedirectResponse:
    """The dashboard is the front page."""
    return RedirectResponse("/dashboard", status_code=307)


@router.get("/favicon.ico")
async def favicon() -> Response:
    """No icon (browsers ask for one; an empty answer keeps their consoles clean)."""
    return Response(status_code=204, headers=SECURITY_HEADERS)


@router.get("/dashboard")
async def dashboard() -> Response:
    """The dashboard page (it asks for an API key and reads the JSON API)."""
    return _file("index.html")


@router.get("/dashboard/{asset}")
async def dashboard_asset(asset: Asset) -> Response:
    """A script or style sheet of the dashboard."""
    return _file(asset)
