"""Chat on a fresh PostgreSQL database and the test's RabbitMQ exchange; users come in through
the projection's consumer (as auth's user.registered would bring them), tokens from
TokenFactory. Data: parley_common.testing.factories."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import pytest
from sqlalchemy import func, select

from chat.config import Settings
from chat.main import MIGRATIONS, create_app
from chat.models import (
    OUTBOX,
    Block,
    Conversation,
    FriendRequest,
    Friendship,
    Member,
    Message,
    Reaction,
)
from chat.runtime import chat_runtime
from parley_common.bus import Delivery
from parley_common.events import UserRegistered, envelope, svc_key
from parley_common.http import Transports
from parley_common.testing.harness import EventLog, UserApi, observe, running, service_settings
from parley_common.testing.plugin import BusConfig, migrated_pg_url
from parley_common.testing.tokens import TokenFactory
from parley_common.testing.waiting import wait_for


def make_settings(pg_url: str, amqp: BusConfig, **overrides: Any) -> Settings:
    defaults: dict[str, Any] = {
        "notify_url": "http://127.0.0.1:9",  # nothing listens: presence falls back to offline
        "presence_timeout_seconds": 0.5,
    }
    return service_settings(Settings, database_url=pg_url, amqp=amqp, **defaults | overrides)


@dataclass
class Chat(UserApi):
    """A running chat app; `events` is every event its relay published."""

    events: EventLog = field(default_factory=EventLog)

    async def register(self, user_id: int, username: str) -> int:
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
        await chat_runtime(self.app.state).consumers[0].handle(delivery)
        return user_id

    async def settle(self) -> None:
        """Wait until the outbox is empty and the observer has seen every row it published."""

        async def drained() -> bool:
            async with chat_runtime(self.app.state).sessionmaker() as session:
                pending, total = (
                    await session.execute(
                        select(func.count().filter(OUTBOX.c.sent_at.is_(None)), func.count())
                    )
                ).one()
            return pending == 0 and len(self.events.received) >= total

        await wait_for(drained, timeout=15, message="outbox drained and events observed")


class StartChat(Protocol):
    """The `start_chat` fixture: one more chat app, on the test's database and exchange."""

    async def __call__(self, *, transports: Transports | None = None, **overrides: Any) -> Chat: ...


pg_url = migrated_pg_url(MIGRATIONS)


@pytest.fixture
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture
async def start_chat(
    pg_url: str, amqp: BusConfig, tokens: TokenFactory
) -> AsyncIterator[StartChat]:
    """Starts the chat app (once per test) with optional setting overrides."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(*, transports: Transports | None = None, **overrides: Any) -> Chat:
            log = EventLog()
            observer = await observe(amqp, log)
            stack.push_async_callback(observer.close)
            app = create_app(
                make_settings(pg_url, amqp, **overrides),
                transports={"auth": tokens.transport(), **(transports or {})},
            )
            client = await stack.enter_async_context(running(app))
            return Chat(app=app, client=client, tokens=tokens, events=log)

        yield start


@pytest.fixture
async def chat(start_chat: StartChat) -> Chat:
    return await start_chat()


async def snapshot(chat: Chat) -> Any:
    """Every row a refused request must leave as it was (events included: the outbox)."""
    async with chat_runtime(chat.app.state).sessionmaker() as session:

        def rows(result: Any) -> list[Any]:
            return sorted(repr(tuple(r)) for r in result)

        tables = (Conversation, Member, Message, Reaction, FriendRequest, Friendship, Block)
        return (
            *[rows(await session.execute(select(t.__table__))) for t in tables],
            rows(await session.execute(select(OUTBOX.c.id))),
        )


def refused(r: httpx.Response, status: int, detail: str, code: str) -> bool:
    """The documented refusal: status, PROTOCOL.md's detail text and Parley's stable code."""
    body = r.json()
    return (r.status_code, body.get("detail"), body.get("code")) == (status, detail, code)
