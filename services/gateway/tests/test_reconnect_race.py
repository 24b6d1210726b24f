"""A user's new socket set up while their only other socket closes still gets their
conversations (the close takes the user's subscriptions with it)."""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from gateway.main import create_app
from parley_common.bus import MemoryBus
from parley_common.testing.tokens import TokenFactory
from parley_common.testing.waiting import wait_for

from .conftest import Env, Server, connected, make_settings, recv_until
from .fakes import FakeChat, fake_notify


class GatedTransport(httpx.AsyncBaseTransport):
    """Holds presence lookups (part of every socket's set-up) until the test opens the gate."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.armed = False
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.armed and request.url.path == "/internal/presence/lookup":
            self.waiting.set()
            await self.gate.wait()
        return await self.inner.handle_async_request(request)


async def test_socket_set_up_while_the_other_closes_keeps_conversations() -> None:
    settings = make_settings()
    tokens = TokenFactory()
    bus = MemoryBus(settings.amqp_url)
    chat = FakeChat(bus)
    chat.add_conversation(10, {1, 2})
    chat.friends[1] = {2}
    gated = GatedTransport(httpx.ASGITransport(fake_notify(online=set())))
    transports = {
        "auth": tokens.transport(),
        "chat": httpx.ASGITransport(chat.app),
        "notify": gated,
    }
    app = create_app(settings, transports=transports)
    async with Server(app) as server:
        env = Env(tokens, chat, bus, server, settings)
        try:
            first = await env.connect(1)
            await connected(first)
            gated.armed = True
            second = await env.connect(1)
            await asyncio.wait_for(gated.waiting.wait(), 5)  # set-up under way, user seen online
            await first.close()

            async def only_the_second() -> bool:
                async with httpx.AsyncClient(base_url=server.http_url) as http:
                    connections: int = (await http.get("/health")).json()["websocket_connections"]
                    return connections == 1

            await wait_for(only_the_second, timeout=5, message="first socket gone")
            gated.gate.set()
            await connected(second)

            message = chat.store_message(10, 2, "still subscribed")
            await chat.publish_created(message)
            frame = await recv_until(second, "new_message")
            assert frame["message"]["content"] == "still subscribed"
        finally:
            for ws in env.sockets:
                with contextlib.suppress(Exception):
                    await ws.close()
