"""No token in any log line at any level (issue 12, finding 6): the embedded runner and a gateway
started by the uvicorn CLI (as in the stack, compose and Kubernetes), both at debug level with
access logs on, are connected to with the token in the path, in the query and in a first `auth`
frame; their logs hold no JWT, and the access-log filter no longer raises."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets

from parley.stack import ROOT, Process, free_port, spawn_embedded
from parley_client.testing import new_user

from .conftest import E2E_ENV, LOG_DIR, _wait_http

DEBUG = {**E2E_ENV, "PARLEY_LOG_LEVEL": "DEBUG", "PARLEY_LOG_JSON": "true"}


@pytest.fixture
async def debug_embedded() -> AsyncIterator[tuple[str, Path]]:
    data_dir = Path(tempfile.mkdtemp(prefix="parley-logs-"))
    port = free_port()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"debug-embedded-{port}.log"
    popen = spawn_embedded(port, data_dir, log, DEBUG)
    process = Process("embedded", port, {}, popen=popen, log_path=log)
    try:
        await asyncio.to_thread(_wait_http, process.url, popen, log, 120)
        yield process.url, log
    finally:
        process.stop()


@pytest.fixture
async def cli_gateway(debug_embedded: tuple[str, Path]) -> AsyncIterator[tuple[str, Path]]:
    """A gateway run by the uvicorn command line at debug level, access log on; it verifies
    tokens with the embedded platform's keys."""
    embedded_url, _ = debug_embedded
    port = free_port()
    log = LOG_DIR / f"debug-gateway-{port}.log"
    env = {
        **os.environ,
        **DEBUG,
        "PARLEY_AMQP_URL": "memory://",
        "PARLEY_REDIS_URL": "memory://",
        "PARLEY_AUTH_URL": embedded_url,
        "PARLEY_CHAT_URL": embedded_url,
        "PARLEY_NOTIFY_URL": embedded_url,
    }
    command = [
        sys.executable, "-m", "uvicorn", "gateway.main:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "debug", "--no-proxy-headers",
    ]  # fmt: skip
    with log.open("ab") as out:
        popen = subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited on
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    process = Process("gateway-debug", port, {}, popen=popen, log_path=log)
    try:
        await asyncio.to_thread(_wait_http, process.url, popen, log, 120)
        yield process.url, log
    finally:
        process.stop()


async def use_the_token_everywhere(url: str, token: str) -> None:
    ws = url.replace("http", "ws", 1)
    for target in (f"{ws}/ws/{token}", f"{ws}/ws?token={token}"):
        async with websockets.connect(target, open_timeout=30) as socket:
            await socket.send(json.dumps({"type": "ping"}))
            while json.loads(await socket.recv())["type"] != "pong":
                pass
    async with websockets.connect(f"{ws}/ws", open_timeout=30) as socket:
        await socket.send(json.dumps({"type": "auth", "token": token}))
        while json.loads(await socket.recv())["type"] != "connected":
            pass
    async with httpx.AsyncClient(trust_env=False) as http:
        await http.get(
            f"{url}/users/me?token={token}", headers={"Authorization": f"Bearer {token}"}
        )
        await http.get(f"{url}/ws/{token}")  # a plain GET of a socket path


async def test_no_token_in_any_log_line_at_debug_level(
    debug_embedded: tuple[str, Path], cli_gateway: tuple[str, Path]
) -> None:
    embedded_url, embedded_log = debug_embedded
    gateway_url, gateway_log = cli_gateway
    client = await new_user(embedded_url, "logs")
    try:
        token = client.access_token
        assert token is not None and token.startswith("eyJ")
        await use_the_token_everywhere(embedded_url, token)
        await use_the_token_everywhere(gateway_url, token)
    finally:
        await client.aclose()
    for url in (embedded_url, gateway_url):
        async with httpx.AsyncClient(trust_env=False) as http:
            await http.get(f"{url}/health")  # a last line, so the ones above are flushed
    for log in (embedded_log, gateway_log):
        text = log.read_text(errors="replace")
        assert "/ws/[redacted]" in text, f"{log}: the socket lines were not logged at all"
        assert "eyJ" not in text, f"{log}: a token in the logs"
        assert token[-20:] not in text, f"{log}: part of a token in the logs"
        assert "Logging error" not in text and "Traceback" not in text, log
