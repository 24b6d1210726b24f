"""Fixtures for chat's tests: the app on a fresh PostgreSQL database and a real RabbitMQ
exchange, users fed through the projection's consumer, tokens from TokenFactory."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from chat.config import Settings
from chat.main import create_app
from parley_common.bus import Bus, Delivery, create_bus
from parley_common.events import Envelope, UserRegistered, envelope, svc_key
from parley_common.testing.plugin import BusConfig
from parley_common.testing.tokens import TokenFactory
from parley_common.testing.waiting import wait_for

INTERNAL_TOKEN = "test-internal-token"


def make_settings(pg_url: str, amqp: BusConfig, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": pg_url,
        "amqp_url": amqp.url,
        "bus_exchange": amqp.exchange,
        "bus_queue_prefix": amqp.queue_prefix,
        "internal_token": INTERNAL_TOKEN,
        "outbox_poll_seconds": 0.2,
        "notify_url": "http://127.0.0.1:9",  # nothing listens: presence falls back to offline
        "presence_timeout_seconds": 0.5,
        "log_json": False,
    }
    values.update(overrides)
    return Settings(**values)


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


@dataclass
class Chat:
    """A running chat app with an HTTP client and helpers to make users and act as them."""

    app: Any
    client: httpx.AsyncClient
    tokens: TokenFactory
    events: EventLog
    usernames: dict[int, str] = field(default_factory=dict)

    async def register(self, user_id: int, username: str | None = None) -> int:
        username = username or f"user{user_id}"
        env = envelope(
            UserRegistered(
                user_id=user_id,
                username=username,
                email=f"{username}@example.com",
                created_at=datetime.now(UTC),
            ),
            producer="auth",
        )
        delivery = Delivery(svc_key(env.type), env.model_dump_json().encode(), str(env.id))
        await self.app.state.consumer.handle(delivery)
        self.usernames[user_id] = username
        return user_id

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

    async def befriend(self, a: int, b: int) -> None:
        await self.ok("POST", "/friends/request", a, json={"username": self.usernames[b]})
        requests = await self.ok("GET", "/friends/requests", b)
        rid = next(r["id"] for r in requests if r["requester"]["id"] == a)
        await self.ok("PUT", f"/friends/requests/{rid}/accept", b)

    async def direct(self, a: int, b: int) -> dict[str, Any]:
        return await self.ok(
            "POST", "/conversations", a, json={"type": "direct", "member_user_ids": [b]}
        )

    async def befriend_all(self, user_id: int, others: list[int]) -> None:
        """Makes `others` friends of `user_id` (only friends can be put into a group)."""
        friends = {f["id"] for f in await self.ok("GET", "/friends", user_id)}
        for other in others:
            if other != user_id and other not in friends:
                await self.befriend(user_id, other)

    async def group(self, admin: int, members: list[int], name: str = "group") -> dict[str, Any]:
        await self.befriend_all(admin, members)
        return await self.ok(
            "POST",
            "/conversations",
            admin,
            json={"type": "group", "name": name, "member_user_ids": members},
        )

    async def send(
        self, user_id: int, conversation_id: int, content: str = "hello", **kw: Any
    ) -> dict[str, Any]:
        return await self.ok(
            "POST",
            "/messages",
            user_id,
            json={"conversation_id": conversation_id, "content": content, **kw},
        )

    async def internal(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.get(path, headers={"X-Parley-Service-Token": INTERNAL_TOKEN}, **kw)

    async def settle(self) -> None:
        """Wait until the outbox is empty and the observer has seen every row it published."""
        from sqlalchemy import func, select

        from chat.models import outbox

        async def drained() -> bool:
            async with self.app.state.sessionmaker() as session:
                pending, total = (
                    await session.execute(
                        select(func.count().filter(outbox.c.sent_at.is_(None)), func.count())
                    )
                ).one()
            return pending == 0 and len(self.events.received) >= total

        await wait_for(drained, timeout=15, message="outbox drained and events observed")


@pytest.fixture
def tokens() -> TokenFactory:
    return TokenFactory()


async def observe(amqp: BusConfig, log: EventLog) -> Bus:
    """A consumer of every event on the test's exchange (a durable queue of its own)."""
    bus = create_bus(amqp.url, exchange=amqp.exchange, queue_prefix=amqp.queue_prefix)
    await bus.start()
    # The queue must exist before the app publishes anything, or early events are unroutable.
    await wait_for(bus.ping, timeout=60, message="observer connected to RabbitMQ")
    await bus.subscribe(f"observer.{uuid.uuid4().hex[:6]}", ["#"], log.handle, prefetch=200)
    return bus


@pytest.fixture
async def start_chat(pg_url: str, amqp: BusConfig, tokens: TokenFactory) -> AsyncIterator[Any]:
    """Starts the chat app (once per test) with optional setting overrides."""
    stack: list[Any] = []

    async def start(*, transports: dict[str, Any] | None = None, **overrides: Any) -> Chat:
        log = EventLog()
        observer = await observe(amqp, log)
        stack.append(observer)
        app = create_app(
            make_settings(pg_url, amqp, **overrides),
            transports={"auth": tokens.transport(), **(transports or {})},
        )
        manager = LifespanManager(app, startup_timeout=30, shutdown_timeout=30)
        await manager.__aenter__()
        stack.append(manager)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        stack.append(client)
        return Chat(app=app, client=client, tokens=tokens, events=log)

    yield start
    for item in reversed(stack):
        if isinstance(item, httpx.AsyncClient):
            await item.aclose()
        elif isinstance(item, LifespanManager):
            await item.__aexit__(None, None, None)
        else:
            await item.close()


@pytest.fixture
async def chat(start_chat: Any) -> Chat:
    return await start_chat()
