"""The web client talks only to its own origin and runs under a CSP (issue 12, finding 7).

A link with `?api=<another origin>` (which once went to localStorage and took every later
request, tokens and the login password included, there) is ignored: the page registers, logs in
and chats through its own origin only, with the policy's `connect-src` enforced and not one CSP
violation along the way."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, expect

from parley.stack import free_port

from .test_web_chat import LIVE, new_page, register, tid

pytestmark = pytest.mark.timeout(120)


async def test_api_origin_never_comes_from_the_url(browser: Browser, parley_server: str) -> None:
    elsewhere = f"http://127.0.0.1:{free_port()}"  # nothing listens: an attacker's origin
    context, page = await new_page(browser)
    try:
        requests: list[str] = []
        violations: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on(
            "console",
            lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
        )
        # An older client stored the origin; the page must forget it too.
        await page.goto(parley_server + "/")
        await page.evaluate(f"localStorage.setItem('parley.apiBase', '{elsewhere}')")
        await page.goto(f"{parley_server}/?api={elsewhere}")
        name = f"csp_{uuid.uuid4().hex[:8]}"
        await register(page, f"{parley_server}/?api={elsewhere}#", name)
        await expect(tid(page, "connection-status")).to_have_attribute(
            "data-state", "online", timeout=LIVE
        )
        own = urlsplit(parley_server).netloc
        foreign = [u for u in requests if urlsplit(u).netloc not in (own, "")]
        assert foreign == [], foreign
        assert await page.evaluate("localStorage.getItem('parley.apiBase')") is None
        assert violations == [], violations
    finally:
        await context.close()


async def test_every_page_carries_a_csp_without_inline_script(parley_server: str) -> None:
    async with httpx.AsyncClient(base_url=parley_server, trust_env=False) as http:
        for path in ("/", "/index.html", "/js/main.js", "/styles.css", "/nothing", "/health"):
            csp = (await http.get(path)).headers["content-security-policy"]
            directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
            assert directives["default-src"] == "'self'", path
            assert directives["script-src"] == "'self'", path
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
            assert f"ws://{urlsplit(parley_server).netloc}" in directives["connect-src"].split()
