from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI
from websockets.exceptions import ConnectionClosed

from gateway.config import Settings
from gateway.main import create_app
from gateway.ws.protocol import ParleyWebSocketProtocol
from parley_common.bus import MemoryBus
from parley_common.testing import harness
from parley_common.testing.harness import running, service_settings
from parley_common.testing.tokens import TokenFactory

from .fakes import FakeChat, fake_notify


class Server(harness.Server):
    """The gateway on a real socket, as in production (parley/stack.py): the protocol with
    direct frame writes."""

    def __init__(self, app: FastAPI, **config: Any) -> None:
        config.setdefault("ws", ParleyWebSocketProtocol)
        super().__init__(app, **config)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


@dataclass
class Env:
    tokens: TokenFactory
    chat: FakeChat
    bus: MemoryBus
    server: Server
    settings: Settings
    sockets: list[Any] = field(default_factory=list)

    async def connect(self, user_id: int, **kwargs: Any) -> Any:
        token = self.tokens.token(user_id, f"user{user_id}", **kwargs.pop("claims", {}))
        ws = await websockets.connect(f"{self.server.ws_url}/{token}", **kwargs)
        self.sockets.append(ws)
        return ws


async def recv(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return frame


async def recv_until(ws: Any, frame_type: str, timeout: float = 5.0) -> dict[str, Any]:
    async def loop() -> dict[str, Any]:
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame["type"] == frame_type:
                return frame

    return await asyncio.wait_for(loop(), timeout)


def close_code(closed: ConnectionClosed) -> int | None:
    """The code of the close frame the server sent (None: the connection just dropped)."""
    return closed.rcvd.code if closed.rcvd is not None else None


async def connected(ws: Any) -> dict[str, Any]:
    return await recv_until(ws, "connected")


def make_settings(**overrides: Any) -> Settings:
    """The in-process bus and store of the gateway's own; fakes behind the service URLs."""
    defaults: dict[str, Any] = {
        "amqp_url": f"memory://gw-{uuid.uuid4().hex}",
        "redis_url": f"memory://gw-{uuid.uuid4().hex}",
        "auth_url": "http://auth",
        "chat_url": "http://chat",
        "notify_url": "http://notify",
    }
    return service_settings(Settings, **defaults | overrides)


@contextlib.asynccontextmanager
async def gateway_env(**overrides: Any) -> AsyncIterator[Env]:
    settings = make_settings(**overrides)
    tokens = TokenFactory()
    bus = MemoryBus(settings.amqp_url)
    chat = FakeChat(bus)
    transports = {
        "auth": tokens.transport(),
        "chat": httpx.ASGITransport(chat.app),
        "notify": httpx.ASGITransport(fake_notify(online={2})),
    }
    app = create_app(settings, transports=transports)
    async with Server(app) as server:
        env = Env(tokens, chat, bus, server, settings)
        try:
            yield env
        finally:
            for ws in env.sockets:
                with contextlib.suppress(Exception):
                    await ws.close()


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    async with gateway_env() as e:
        yield e


@pytest.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, FakeChat, TokenFactory]]:
    settings = make_settings()
    tokens = TokenFactory()
    chat = FakeChat(MemoryBus(settings.amqp_url))
    transports = {
        "auth": tokens.transport(),
        "chat": httpx.ASGITransport(chat.app),
        "notify": httpx.ASGITransport(fake_notify(set())),
    }
    async with running(create_app(settings, transports=transports)) as client:
        yield client, chat, tokens
