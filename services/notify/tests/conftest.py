"""Notify driven like production: real PostgreSQL, RabbitMQ, Redis and an SMTP server; events
published as the other services publish them, and the HTTP API through the ASGI transport."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from notify.config import Settings
from notify.main import MIGRATIONS, create_app
from notify.models import PROCESSED_EVENTS
from notify.runtime import notify_runtime
from parley_common.bus import Bus, Delivery, Subscription
from parley_common.events import (
    ConversationCreated,
    Envelope,
    EventData,
    FriendAccepted,
    MessageCreated,
    PresenceConnected,
    PresenceDisconnected,
    PresenceHeartbeat,
    ReceiptUpdated,
    UserRegistered,
    conv_key,
    envelope,
    svc_key,
    user_key,
)
from parley_common.schemas import ConversationRead, MemberRef, MessageRead, UserPublic, UserRef
from parley_common.testing.harness import connected_bus, service_settings
from parley_common.testing.plugin import BusConfig, migrated_pg_url
from parley_common.testing.smtp import SmtpCollector, smtp_server
from parley_common.testing.tokens import TokenFactory
from parley_common.testing.waiting import wait_for

pg_url = migrated_pg_url(MIGRATIONS)


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpCollector, int]]:
    with smtp_server() as server:
        yield server


@dataclass
class Observer:
    """A client-side consumer on the bus: what gateways would receive."""

    received: list[tuple[str, Envelope]] = field(default_factory=list)
    subscription: Subscription | None = None

    async def handle(self, delivery: Delivery) -> None:
        self.received.append((delivery.routing_key, Envelope.model_validate_json(delivery.body)))

    def of_type(self, event_type: str) -> list[tuple[str, Envelope]]:
        return [(k, e) for k, e in self.received if e.type == event_type]


class Notify:
    """One notify app on the test's backends, with helpers that publish other services' events."""

    def __init__(self, settings: Settings, bus: Bus, tokens: TokenFactory) -> None:
        self.settings = settings
        self.bus = bus
        self.tokens = tokens
        self.app: Any = None
        self._lifespan: LifespanManager | None = None
        self.http: httpx.AsyncClient | None = None
        self._counted_before: dict[Any, float] = {}

    async def start(self) -> Notify:
        self.app = create_app(self.settings, transports={"auth": self.tokens.transport()})
        self._lifespan = LifespanManager(self.app, startup_timeout=30, shutdown_timeout=30)
        await self._lifespan.__aenter__()
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(self._lifespan.app), base_url="http://notify"
        )
        # The shared broker can be slow: publish nothing before notify's queues are bound.
        await wait_for(
            lambda: bus_connected(notify_runtime(self.app.state).bus),
            timeout=60,
            message="notify's bus",
        )
        return self

    async def stop(self) -> None:
        if self.http:
            await self.http.aclose()
        if self._lifespan:
            await self._lifespan.__aexit__(None, None, None)
        self.http = self._lifespan = None

    # --- HTTP --------------------------------------------------------------------------------

    def auth(self, user_id: int) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.token(user_id, f'user{user_id}')}"}

    async def get(self, path: str, user_id: int | None = None, **kwargs: Any) -> httpx.Response:
        assert self.http
        headers = self.auth(user_id) if user_id is not None else {}
        return await self.http.get(path, headers=headers, **kwargs)

    async def request(self, method: str, path: str, user_id: int, **kwargs: Any) -> httpx.Response:
        assert self.http
        return await self.http.request(method, path, headers=self.auth(user_id), **kwargs)

    async def db(self, query: Any) -> Any:
        async with notify_runtime(self.app.state).sessionmaker() as session:
            return (await session.execute(query)).all()

    async def processed(self, env: Envelope) -> bool:
        """The event's handler ran: its id is in the inbox, or (an event that needed no work,
        e.g. a message for members who are all online) the consumer counted it."""
        rows = await self.db(
            select(func.count())
            .select_from(PROCESSED_EVENTS)
            .where(PROCESSED_EVENTS.c.event_id == env.id)
        )
        if rows[0][0]:
            return True
        before = self._counted_before.get(env.id)
        return before is not None and _consumed(env.type) > before

    # --- events other services publish -------------------------------------------------------

    async def publish(self, event: EventData, keys: list[str]) -> Envelope:
        return await self.publish_envelope(envelope(event, producer="test"), keys)

    async def publish_envelope(self, env: Envelope, keys: list[str]) -> Envelope:
        """Publishes `env` as it is: again, for the tests of duplicate deliveries."""
        self._counted_before[env.id] = _consumed(env.type)
        for key in keys:
            await self.bus.publish(key, env.model_dump_json().encode(), message_id=str(env.id))
        return env

    async def register(self, user_id: int, username: str) -> Envelope:
        event = UserRegistered(
            user_id=user_id, username=username, email=f"{username}@example.com", created_at=now()
        )
        return await self.publish(event, [svc_key(event.EVENT_TYPE)])

    async def befriend(self, requester_id: int, accepter_id: int) -> Envelope:
        event = FriendAccepted(
            request_id=requester_id * 1000 + accepter_id,
            requester_id=requester_id,
            accepter=UserPublic(
                id=accepter_id, username=f"user{accepter_id}", email="a@example.com"
            ),
            requester=UserPublic(
                id=requester_id, username=f"user{requester_id}", email="r@example.com"
            ),
        )
        keys = [user_key(u, event.EVENT_TYPE) for u in (requester_id, accepter_id)]
        return await self.publish(event, keys)

    async def create_group(
        self, conversation_id: int, name: str, creator: int, members: list[int]
    ) -> Envelope:
        conversation = ConversationRead(
            id=conversation_id,
            name=name,
            type="group",
            private_pair_key=None,
            member_ids=members,
            members=[
                MemberRef(
                    user=UserRef(id=u, username=f"user{u}"),
                    role="admin" if u == creator else "member",
                )
                for u in members
            ],
            last_message=None,
            created_at=now(),
        )
        event = ConversationCreated(conversation=conversation, created_by=creator)
        return await self.publish(event, [user_key(u, event.EVENT_TYPE) for u in members])

    async def message(
        self,
        conversation_id: int,
        seq: int,
        sender_id: int,
        members: list[int],
        content: str,
        *,
        mentions: list[int] | None = None,
        sender_username: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
        type_: str = "text",
    ) -> Envelope:
        message = MessageRead(
            id=conversation_id * 10_000 + seq,
            conversation_id=conversation_id,
            seq=seq,
            sender_id=sender_id,
            sender_username=sender_username or f"user{sender_id}",
            content=content,
            client_msg_id=uuid.uuid4().hex,
            mentions=mentions or [],
            created_at=now(),
            attachments=attachments or [],
            type=type_,
        )
        event = MessageCreated(message=message, member_ids=members)
        return await self.publish(event, [conv_key(conversation_id, event.EVENT_TYPE)])

    async def read(self, user_id: int, conversation_id: int, seq: int) -> Envelope:
        event = ReceiptUpdated(
            conversation_id=conversation_id, user_id=user_id, kind="read", seq=seq, at=now()
        )
        return await self.publish(event, [conv_key(conversation_id, event.EVENT_TYPE)])

    async def connected(self, gateway_id: str, connection_id: str, user_id: int) -> Envelope:
        event = PresenceConnected(
            gateway_id=gateway_id, connection_id=connection_id, user_id=user_id
        )
        return await self.publish(event, [svc_key(event.EVENT_TYPE)])

    async def disconnected(self, gateway_id: str, connection_id: str, user_id: int) -> Envelope:
        event = PresenceDisconnected(
            gateway_id=gateway_id, connection_id=connection_id, user_id=user_id
        )
        return await self.publish(event, [svc_key(event.EVENT_TYPE)])

    async def heartbeat(self, gateway_id: str) -> Envelope:
        event = PresenceHeartbeat(gateway_id=gateway_id)
        return await self.publish(event, [svc_key(event.EVENT_TYPE)])

    async def wait_processed(self, env: Envelope) -> None:
        await wait_for(lambda: self.processed(env), message=f"event {env.type} processed")


def _consumed(event_type: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "parley_events_consumed_total",
            {"service": "notify", "type": event_type, "result": "processed"},
        )
        or 0.0
    )


def bus_connected(bus: Bus) -> bool:
    return bool(getattr(bus, "connected", True))


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def test_bus(amqp: BusConfig) -> AsyncIterator[Bus]:
    bus = await connected_bus(amqp)
    try:
        yield bus
    finally:
        await bus.close()


@pytest.fixture
async def observer(test_bus: Bus) -> Observer:
    obs = Observer()
    obs.subscription = await test_bus.subscribe(
        f"observer.{uuid.uuid4().hex[:8]}",
        ["gw.presence.changes", "user.*.notification.created"],
        obs.handle,
        exclusive=True,
    )
    return obs


@pytest.fixture
def settings(
    pg_url: str, amqp: BusConfig, redis_url: str, smtp: tuple[SmtpCollector, int]
) -> Settings:
    return service_settings(
        Settings,
        database_url=pg_url,
        amqp=amqp,
        redis_url=redis_url,
        smtp_url=f"smtp://127.0.0.1:{smtp[1]}",
        presence_key_prefix=f"test:{uuid.uuid4().hex[:10]}:presence:",
        email_delay_seconds=1.0,
        email_tick_seconds=0.1,
        email_retry_base_seconds=0.2,
        presence_gateway_ttl_seconds=30.0,
        presence_reap_seconds=0.2,
        unsubscribe_secret="test-unsubscribe-secret",
        web_url="http://parley.test",
    )


@pytest.fixture
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture
async def notify(settings: Settings, test_bus: Bus, tokens: TokenFactory) -> AsyncIterator[Notify]:
    harness = await Notify(settings, test_bus, tokens).start()
    try:
        yield harness
    finally:
        await harness.stop()


@pytest.fixture
async def short_ttl(
    settings: Settings, test_bus: Bus, tokens: TokenFactory
) -> AsyncIterator[Notify]:
    """Notify with a 1 s gateway TTL, so a silent gateway is noticed quickly."""
    ttl = settings.model_copy(update={"presence_gateway_ttl_seconds": 1.0})
    harness = await Notify(ttl, test_bus, tokens).start()
    try:
        yield harness
    finally:
        await harness.stop()


@pytest.fixture
def harness() -> type[Notify]:
    """The harness class, for tests that build notify on other backends."""
    return Notify
