"""Browser-test fixtures: the whole platform (`python -m parley.embedded`) in a subprocess,
a cuttable TCP proxy in front of it, and headless Debian Chromium driven by Playwright.

- `parley_server`: a free port, a throwaway data dir, cheap password hashing; waits for
  /health with a deadline; stops only the process it started. Log under
  test-results/browser/.
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

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, async_playwright

from parley.stack import ROOT, free_port, spawn_embedded
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
    log = RESULTS / "server.log"
    log.unlink(missing_ok=True)
    popen = spawn_embedded(port, data_dir, log, SERVER_ENV)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, popen, log, timeout=60)
        yield url
    finally:
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
    for stale in RESULTS.glob("*.png"):  # screenshots of an earlier run must not mislead
        stale.unlink(missing_ok=True)
    async with async_playwright() as p:
        chromium = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()
