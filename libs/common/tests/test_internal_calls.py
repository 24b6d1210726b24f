"""The live path's internal calls over a real socket: what the other service answers, with the
service token; its failures (an error status, no answer in time, nobody listening) as
InternalCallFailed, never as a hang or another exception."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from parley_common.internal import SERVICE_TOKEN_HEADER
from parley_common.internal_calls import InternalCallFailed, InternalClient
from parley_common.testing.harness import Server

TOKEN = "calls-test-token"


def service() -> FastAPI:
    app = FastAPI()

    @app.post("/internal/echo")
    async def echo(request: Request) -> Any:
        return {
            "body": await request.json(),
            "token_ok": request.headers.get(SERVICE_TOKEN_HEADER) == TOKEN,
        }

    @app.post("/internal/broken")
    async def broken() -> Any:
        return JSONResponse({"detail": "Internal error"}, status_code=500)

    @app.post("/internal/slow")
    async def slow() -> Any:
        await asyncio.sleep(1.5)
        return {}

    @app.post("/internal/not-json")
    async def not_json() -> Any:
        return PlainTextResponse("<html>not json</html>")

    return app


async def test_answers_with_the_service_token_and_fails_clearly() -> None:
    async with Server(service()) as server:
        calls = InternalClient(server.http_url, internal_token=TOKEN, timeout=0.3, pool_size=2)
        try:
            body = {"user_ids": [3, 1, 2], "text": "héllo ✓"}
            answers = await asyncio.gather(*(calls.post("/internal/echo", body) for _ in range(5)))
            assert answers == [{"body": body, "token_ok": True}] * 5

            with pytest.raises(InternalCallFailed, match="500"):
                await calls.post("/internal/broken", {})
            with pytest.raises(InternalCallFailed):
                await calls.post("/internal/slow", {})
            with pytest.raises(InternalCallFailed):
                await calls.post("/internal/not-json", {})
            # The pool is still good after each failure.
            assert (await calls.post("/internal/echo", {}))["token_ok"] is True
        finally:
            await calls.aclose()

    calls = InternalClient(server.http_url, internal_token=TOKEN, timeout=0.5)
    try:
        with pytest.raises(InternalCallFailed):
            await calls.post("/internal/echo", {})  # the service is gone
    finally:
        await calls.aclose()
