"""The dashboard over plain HTTP: the page, its assets, its security headers."""

from __future__ import annotations

import httpx

from service.web.api import CONTENT_SECURITY_POLICY


async def test_dashboard_page_has_a_strict_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/dashboard")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/dashboard/app.js"></script>' in response.text
    assert "<script>" not in response.text  # nothing inline: the policy would refuse it


async def test_root_redirects_to_the_dashboard(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 307
    assert response.headers["location"] == "/dashboard"


async def test_assets_are_served_with_their_types_and_headers(client: httpx.AsyncClient) -> None:
    for name, media_type in (
        ("app.js", "text/javascript"),
        ("sse.js", "text/javascript"),
        ("dashboard.css", "text/css"),
    ):
        response = await client.get(f"/dashboard/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith(media_type)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


async def test_only_dashboard_files_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/dashboard/missing.js")).status_code == 404
    assert (await client.get("/dashboard/index.html")).status_code == 422  # not an asset name
    assert (await client.get("/dashboard/..%2Fapi.py")).status_code in {404, 422}
    assert (await client.get("/dashboard/api.py")).status_code == 422


async def test_no_script_uses_html_strings(client: httpx.AsyncClient) -> None:
    """CAP text is untrusted: the scripts build nodes, never parse HTML."""
    for name in ("app.js", "api.js", "detail.js", "delivery.js", "dom.js", "list.js", "map.js"):
        source = (await client.get(f"/dashboard/{name}")).text
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, f"{name} uses {sink}"


async def test_the_api_without_a_key_is_a_401_problem(client: httpx.AsyncClient) -> None:
    """What the page shows when its key is missing or wrong."""
    response = await client.get("/api/v1/alerts")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["title"] == "Authentication required"
    assert "Bearer" in body["detail"]
