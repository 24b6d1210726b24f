"""The harness every service's tests use: settings for a test, a started app with an HTTP
client that acts as users, and an observer of the events a test's exchange carries."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

import httpx
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from ..bus import Bus, Delivery, create_bus
from ..events import Envelope
from ..internal import SERVICE_TOKEN_HEADER
from ..settings import BaseServiceSettings
from .plugin import BusConfig
from .tokens import TokenFactory
from .waiting import wait_for

S = TypeVar("S", bound=BaseServiceSettings)

INTERNAL_TOKEN = "test-internal-token"
# Shared test machines are busy: give startup and shutdown room before calling them hung.
LIFESPAN_SECONDS = 60


def service_settings(
    settings_class: type[S],
    *,
    database_url: str | None = None,
    amqp: BusConfig | None = None,
    redis_url: str | None = None,
    **overrides: Any,
) -> S:
    """Settings of a service under test: its backends, the test's exchange and queue prefix,
    quick outbox polls, readable logs; `overrides` win."""
    values: dict[str, Any] = {
        "environment": "test",
        "internal_token": INTERNAL_TOKEN,
        "outbox_poll_seconds": 0.2,
        "log_json": False,
    }
    if database_url is not None:
        values["database_url"] = database_url
    if amqp is not None:
        values.update(
            amqp_url=amqp.url,
            bus_exchange=amqp.exchange,
            bus_queue_prefix=amqp.queue_prefix,
            bus_queue_type=amqp.queue_type,
        )
    if redis_url is not None:
        values["redis_url"] = redis_url
    values.update(overrides)
    return settings_class(**values)


@asynccontextmanager
async def running(
    app: FastAPI, *, base_url: str = "http://test"
) -> AsyncIterator[httpx.AsyncClient]:
    """The app's lifespan started, and a client that calls it in process."""
    async with (
        LifespanManager(app, startup_timeout=LIFESPAN_SECONDS, shutdown_timeout=LIFESPAN_SECONDS),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=base_url) as client,
    ):
        yield client


class Server:
    """An ASGI app on a real socket (uvicorn in this event loop), for what must cross the
    network: WebSockets, and the HTTP clients services call each other with."""

    def __init__(self, app: Any, **config: Any) -> None:
        self.app = app
        self.config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", **config
        )
        self.server = uvicorn.Server(self.config)
        self.task: asyncio.Task[None] | None = None
        self.port = 0

    async def __aenter__(self) -> Self:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        assert self.task is not None
        await asyncio.wait_for(self.task, 15)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class UserApi:
    """A started app's HTTP API, called as one user or another (tokens from `tokens`).
    Subclasses say how a user comes to exist (`register`): through the service's API, or by
    the event another service would publish."""

    app: FastAPI
    client: httpx.AsyncClient
    tokens: TokenFactory
    usernames: dict[int, str] = field(default_factory=dict)

    async def register(self, user_id: int, username: str) -> int:
        raise NotImplementedError

    def h(self, user_id: int) -> dict[str, str]:
        token = self.tokens.token(user_id, self.usernames.get(user_id, f"user{user_id}"))
        return {"Authorization": f"Bearer {token}"}

    async def call(
        self, method: str, path: str, user_id: int | None = None, **kw: Any
    ) -> httpx.Response:
        headers = kw.pop("headers", {})
        if user_id is not None:
            headers.update(self.h(user_id))
        return await self.client.request(method, path, headers=headers, **kw)

    async def ok(self, method: str, path: str, user_id: int, **kw: Any) -> Any:
        r = await self.call(method, path, user_id, **kw)
        assert r.status_code == 200, (method, path, r.status_code, r.text)
        return r.json()

    async def internal(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.get(path, headers={SERVICE_TOKEN_HEADER: INTERNAL_TOKEN}, **kw)


class EventLog:
    """Every event the broker routes on the test's exchange, as a consumer sees it."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Envelope]] = []

    async def handle(self, delivery: Delivery) -> None:
        self.received.append((delivery.routing_key, Envelope.model_validate_json(delivery.body)))

    def of_type(self, event_type: str) -> list[tuple[str, Envelope]]:
        return [(k, e) for k, e in self.received if e.type == event_type]

    def keys(self, event_type: str) -> list[str]:
        return sorted(k for k, _ in self.of_type(event_type))


async def connected_bus(amqp: BusConfig) -> Bus:
    """A started bus on the test's exchange, connected (the shared broker can be slow)."""
    bus = create_bus(
        amqp.url,
        exchange=amqp.exchange,
        queue_prefix=amqp.queue_prefix,
        queue_type=amqp.queue_type,
        # A test's own publisher waits longer for the broker's confirms than a service (5 s):
        # in a whole CI run, 25 publishes at once once took longer than that.
        publish_timeout=30.0,
    )
    await bus.start()
    await wait_for(bus.ping, timeout=60, message="the test's bus connected to RabbitMQ")
    return bus


async def observe(amqp: BusConfig, log: EventLog, bindings: Sequence[str] = ("#",)) -> Bus:
    """A consumer of the events on the test's exchange (a queue of its own). Start it before
    the app publishes anything, or early events are unroutable."""
    bus = await connected_bus(amqp)
    await bus.subscribe(
        f"observer.{uuid.uuid4().hex[:6]}", list(bindings), log.handle, prefetch=200
    )
    return bus
