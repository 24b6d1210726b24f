"""Browser-test fixtures: the whole platform (`python -m parley.embedded`) in a subprocess,
a cuttable TCP proxy in front of it, and headless Debian Chromium driven by Playwright.

- `parley_server`: a free port, a throwaway data dir, cheap password hashing; waits for
  /health with a deadline; stops only the process it started; not traced by coverage. Log
  under test-results/browser/.
- `proxy`: parley_common.testing.proxy.TcpProxy in front of the server. A page loaded through
  the proxy's port talks to it for REST and WebSocket (same origin), so `cut()` really drops
  the page's network (Playwright's `set_offline` alone leaves open WebSockets up,
  microsoft/playwright#4910; see shared STYLE.md, Testing notes).
- `browser`: Chromium at /usr/bin/chromium, headless. If it is missing the test FAILS with a
  message (CI installs it with apt in .ci/run), it is never skipped.

Async Playwright on pytest-asyncio's session loop, so the proxy (asyncio) runs on the same
loop as the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from parley.stack import ROOT, free_port, spawn_embedded
from parley_common.testing.coverage import untraced_children
from parley_common.testing.proxy import TcpProxy

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RESULTS = ROOT / "test-results" / "browser"
# Base URL -> the embedded server's data dir: auth's emails land in its mail/ folder as .eml
# files (the embedded platform's email transport), where UI.email_link reads them.
DATA_DIRS: dict[str, Path] = {}
_stale_cleared: list[bool] = []  # non-empty once this run cleared the old screenshots

SERVER_ENV = {
    "PARLEY_ENVIRONMENT": "development",
    "PARLEY_ARGON2_TIME_COST": "1",
    "PARLEY_ARGON2_MEMORY_COST": "1024",
    "PARLEY_ARGON2_PARALLELISM": "1",
    "PARLEY_LOG_LEVEL": "WARNING",
}


def _wait_healthy(url: str, popen: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"parley.embedded exited with {popen.returncode}; see {log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=1, trust_env=False).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url}/health did not answer within {timeout}s; see {log}")


@pytest.fixture(scope="module")
def parley_server() -> Iterator[str]:
    """Base URL of a fresh embedded Parley (its own data dir, so no login throttle carry-over)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="parley-browser-"))
    port = free_port()
    log = RESULTS / f"server-{port}.log"
    log.unlink(missing_ok=True)
    # Untraced: the web client's tests drive server code that the e2e and service tests measure;
    # traced, each of these servers took twice the CPU (docs/DEVELOPING.md#coverage).
    with untraced_children():
        popen = spawn_embedded(port, data_dir, log, SERVER_ENV)
    url = f"http://127.0.0.1:{port}"
    DATA_DIRS[url] = data_dir
    try:
        _wait_healthy(url, popen, log, timeout=60)
        yield url
    finally:
        DATA_DIRS.pop(url, None)
        if popen.poll() is None:
            popen.send_signal(signal.SIGINT)
            try:
                popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
async def proxy(parley_server: str) -> AsyncIterator[TcpProxy]:
    port = int(parley_server.rsplit(":", 1)[1])
    tcp = await TcpProxy("127.0.0.1", port).start()
    try:
        yield tcp
    finally:
        await tcp.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: the browser tests need Debian's chromium "
            "(`apt-get install chromium`; .ci/run installs it).",
            pytrace=False,
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not _stale_cleared:
        # Screenshots of an earlier run must not mislead; once per run, so a later test does
        # not delete the screenshots of the tests before it.
        for stale in RESULTS.glob("*.png"):
            stale.unlink(missing_ok=True)
        _stale_cleared.append(True)
    async with async_playwright() as p:
        chromium = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


# ---- helpers shared by the web-client tests (a fixture, since test modules here are not a package) ----

LIVE_MS = 10_000  # a live frame through the embedded platform
PASSWORD = "correct horse battery"


class UI:
    """Small steps a test takes as a user, or sets up through the REST API to save time."""

    PASSWORD = PASSWORD

    @staticmethod
    async def api_user(base: str, username: str) -> dict[str, Any]:
        """Registers and signs in over REST; returns the tokens the page keeps in localStorage."""
        async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=20) as http:
            r = await http.post(
                "/auth/register",
                json={
                    "username": username,
                    "email": f"{username}@example.com",
                    "password": PASSWORD,
                },
            )
            r.raise_for_status()
            r = await http.post("/auth/login", json={"username": username, "password": PASSWORD})
            r.raise_for_status()
            body = r.json()
        return {
            "access_token": body["access_token"],
            "refresh_token": body["refresh_token"],
            "expires_at": None,
        }

    @staticmethod
    async def email_link(base: str, to: str, kind: str, *, seen: int = 0) -> str:
        """The path (`/?<kind>=<token>`) of the link in the newest email to `to` with such a
        link, once more than `seen` of them exist (auth sends in the background: waits)."""
        return "/" + await UI.emailed(base, to, rf"\?{kind}=[\w-]+", seen=seen)

    @staticmethod
    async def emailed(base: str, to: str, pattern: str, *, seen: int = 0) -> str:
        """The last match of `pattern` in the plain-text emails to `to`, once more than `seen`
        matches exist (auth sends in the background: waits)."""
        folder = DATA_DIRS[base] / "mail"
        deadline = time.monotonic() + LIVE_MS / 1000
        while True:
            links: list[str] = []
            files = sorted(folder.glob("*.eml"), key=lambda f: f.stat().st_mtime_ns)
            for path in files:
                message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
                body = message.get_body(preferencelist=("plain",)) if message["To"] == to else None
                if body is not None:
                    links += re.findall(pattern, str(body.get_content()))
            if len(links) > seen:
                return links[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no new {pattern!r} emailed to {to} within {LIVE_MS} ms")
            await asyncio.sleep(0.05)  # polling a condition with a deadline

    @staticmethod
    async def login(base: str, username: str, password: str = PASSWORD) -> dict[str, Any]:
        """One more session of the user (as another device would sign in)."""
        async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=20) as http:
            r = await http.post("/auth/login", json={"username": username, "password": password})
            r.raise_for_status()
            return dict(r.json())

    @staticmethod
    async def call(base: str, tokens: dict[str, Any], method: str, path: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=20) as http:
            r = await http.request(method, path, headers=headers, **kw)
            r.raise_for_status()
            return r.json()

    @staticmethod
    async def befriend(base: str, a: dict[str, Any], b: dict[str, Any], b_name: str) -> None:
        await UI.call(base, a, "POST", "/friends/request", json={"username": b_name})
        (req,) = await UI.call(base, b, "GET", "/friends/requests")
        await UI.call(base, b, "PUT", f"/friends/requests/{req['id']}/accept")

    @staticmethod
    async def open_app(
        browser: Browser,
        base: str,
        tokens: dict[str, Any],
        *,
        width: int = 1280,
        height: int = 800,
        dark: bool = False,
    ) -> tuple[BrowserContext, Page]:
        """A new browser context signed in with `tokens`, showing the app once it is online."""
        context = await browser.new_context(
            viewport={"width": width, "height": height},
            color_scheme="dark" if dark else "light",
            locale="en-GB",
            timezone_id="UTC",
        )
        context.set_default_timeout(LIVE_MS)
        page = await context.new_page()
        page.on("dialog", lambda d: d.accept())
        await page.goto(base + "/")
        stored = {k: tokens[k] for k in ("access_token", "refresh_token", "expires_at")}
        await page.evaluate("t => localStorage.setItem('parley.tokens', JSON.stringify(t))", stored)
        await page.reload()
        await expect(page.get_by_test_id("connection-status")).to_have_attribute(
            "data-state", "online", timeout=LIVE_MS
        )
        return context, page

    @staticmethod
    async def send(page: Page, text: str) -> None:
        """Types and presses Enter; waits for the server's ack (the bubble gets a seq)."""
        box = page.get_by_test_id("message-input")
        await box.fill(text)
        await box.press("Enter")
        await expect(
            page.get_by_test_id("message-bubble").filter(has_text=text).last
        ).to_have_attribute("data-seq", re.compile(r"^\d+$"), timeout=LIVE_MS)

    @staticmethod
    async def open_chat(page: Page, name: str) -> None:
        await page.get_by_test_id("tab-chats").click()
        item = page.get_by_test_id("conversation-item").filter(has_text=name)
        await expect(item).to_be_visible(timeout=LIVE_MS)
        await item.click()
        await expect(page.get_by_test_id("chat-title")).to_have_text(name)


@pytest.fixture
def ui() -> type[UI]:
    return UI
