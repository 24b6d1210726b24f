"""The chat service: friends, blocks, conversations, members, messages, receipts."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from parley_common.http import Transports
from parley_common.runtime import Client, Service, create_service_app

from . import models, runtime
from .attachments.api import router as attachments_router
from .config import Settings
from .conversations.api import router as conversations_router
from .conversations.avatars import router as conversation_avatars_router
from .friends.api import router as friends_router
from .integrations.api import router as integrations_router
from .internal.api import handlers as internal_handlers
from .internal.api import router as internal_router
from .messages.api import router as messages_router

MIGRATIONS = Path(__file__).parent / "migrations"

SERVICE: Service[Settings, runtime.ChatParts] = Service(
    name="chat",
    title="Parley chat",
    # Starlette tries routes in order: the hot ones (a REST send, the gateway's WebSocket sends
    # and connect lookups) first, so they do not pay for matching every other route.
    routers=[
        messages_router,
        internal_router,
        friends_router,
        conversations_router,
        conversation_avatars_router,
        attachments_router,
        integrations_router,
    ],
    build=runtime.build,
    migrations=MIGRATIONS,
    outbox=models.OUTBOX,
    processed=models.PROCESSED_EVENTS,
    clients=[
        Client(service="auth"),
        Client(service="notify", timeout=lambda s: s.presence_timeout_seconds),
    ],
    verify_tokens=True,
    internal_handlers=internal_handlers,
)


def create_app(
    settings: Settings | None = None, *, transports: Transports | None = None
) -> FastAPI:
    return create_service_app(SERVICE, settings or Settings(), transports=transports)
