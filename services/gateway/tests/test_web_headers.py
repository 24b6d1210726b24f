"""CSP on every response, HSTS when the public URL is https (issue 12, finding 7)."""

from __future__ import annotations

from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from gateway.main import create_app
from parley_common.testing.tokens import TokenFactory

from .conftest import make_settings


async def headers_of(path: str, **overrides: Any) -> httpx.Headers:
    app = create_app(make_settings(**overrides), transports={"auth": TokenFactory().transport()})
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://chat.test") as c,
    ):
        return (await c.get(path)).headers


def directives(csp: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}


async def test_csp_names_the_websocket_origin_of_the_request_without_a_public_url() -> None:
    h = await headers_of("/")
    policy = directives(h["content-security-policy"])
    assert policy["default-src"] == ["'self'"] and policy["script-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'", "ws://chat.test"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert "strict-transport-security" not in h


async def test_https_public_url_gives_hsts_and_a_wss_origin() -> None:
    h = await headers_of(
        "/nothing",
        public_url="https://chat.example.com",
        web_connect_origins="https://api.example.com",
    )
    assert h["strict-transport-security"].startswith("max-age=31536000")
    assert directives(h["content-security-policy"])["connect-src"] == [
        "'self'",
        "wss://chat.example.com",
        "https://api.example.com",
        "wss://api.example.com",
    ]


async def test_web_client_has_no_url_chosen_api_origin() -> None:
    from gateway.config import REPO_ROOT

    main = (REPO_ROOT / "clients" / "web" / "js" / "main.js").read_text()
    assert "location.search" not in main and "URLSearchParams" not in main
    assert "setItem('parley.apiBase'" not in main


async def test_service_worker_is_served_from_the_root_as_javascript() -> None:
    """The web client's Web Push worker must be at /sw.js (its scope is the folder it is in)
    and be JavaScript, under the same policy as the page (it imports nothing)."""
    app = create_app(make_settings(), transports={"auth": TokenFactory().transport()})
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://chat.test") as c,
    ):
        r = await c.get("/sw.js")
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    assert "addEventListener('push'" in r.text and "notificationclick" in r.text
    assert directives(r.headers["content-security-policy"])["script-src"] == ["'self'"]
