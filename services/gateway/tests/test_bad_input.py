"""Bad input at the edge: 413 before a large body is read whole, request ids replaced, resume
cursors beyond int64 answered with an error frame (issue 12, findings 4 and 5)."""

from __future__ import annotations

import json
from typing import Any

from gateway.main import create_app
from parley_common.testing.tokens import TokenFactory

from .conftest import Env, connected, make_settings, recv_until


async def _call(app: Any, scope: dict[str, Any], chunks: list[bytes]) -> tuple[int, int]:
    """Runs one request through the app; (status, number of body chunks the app consumed)."""
    consumed = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal consumed
        if consumed < len(chunks):
            consumed += 1
            return {
                "type": "http.request",
                "body": chunks[consumed - 1],
                "more_body": consumed < len(chunks),
            }
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status, consumed


def _scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/messages",
        "raw_path": b"/messages",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("test", 80),
    }


class TestBodyLimit:
    async def test_32_mib_is_413_and_never_read_whole(self) -> None:
        app = create_app(make_settings(), transports={"auth": TokenFactory().transport()})
        chunk = b"x" * (1024 * 1024)
        chunks = [chunk] * 32
        declared = [(b"content-length", str(32 * len(chunk)).encode())]
        status, consumed = await _call(app, _scope(declared), chunks)
        assert status == 413 and consumed == 0  # refused from Content-Length alone
        status, consumed = await _call(app, _scope([(b"transfer-encoding", b"chunked")]), chunks)
        assert status == 413 and consumed == 2  # stopped just past the 1 MiB limit


class TestRequestId:
    async def test_non_utf8_request_id_is_replaced_not_500(self, api: Any) -> None:
        client, _, _ = api
        for path in ("/health", "/conversations", "/", "/nothing"):
            r = await client.get(path, headers={"X-Request-ID": b"\xc3\x28\xff"})
            assert r.status_code < 500, (path, r.status_code)
            assert r.headers["x-request-id"].isalnum()

    async def test_forwarded_request_id_is_the_clean_one(self, api: Any) -> None:
        client, _, _ = api
        r = await client.get("/conversations", headers={"X-Request-ID": "bad id with spaces"})
        forwarded = r.json()["echo"]["x-request-id"]
        assert forwarded == r.headers["x-request-id"] and " " not in forwarded


class TestForwardedHeaders:
    async def test_non_ascii_header_bytes_are_forwarded_not_500(self, api: Any) -> None:
        client, _, _ = api
        r = await client.get("/conversations", headers={"User-Agent": b"caf\xe9 \xff"})
        assert r.status_code == 200


class TestResumeCursors:
    async def test_cursor_above_int64_gets_an_invalid_error_frame(self, env: Env) -> None:
        ws = await env.connect(1)
        await connected(ws)
        await ws.send(json.dumps({"type": "resume", "cursors": {"9223372036854775808": 0}}))
        error = await recv_until(ws, "error")
        assert error["code"] == "invalid"
        await ws.send(json.dumps({"type": "resume", "cursors": {"1": 2**63}}))
        assert (await recv_until(ws, "error"))["code"] == "invalid"
        await ws.send(json.dumps({"type": "ping"}))
        await recv_until(ws, "pong")  # the connection stays open
