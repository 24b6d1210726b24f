"""The chat service's app: routes, and a lifespan that owns the engine, bus, relay and consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from parley_common.bus import create_bus
from parley_common.consumer import EventConsumer
from parley_common.db import create_engine, make_sessionmaker, migrate, ping
from parley_common.errors import install_error_handlers
from parley_common.http import Transports, service_client
from parley_common.jwt_verify import JWTVerifier
from parley_common.observability import install_observability
from parley_common.outbox import Outbox, OutboxRelay
from parley_common.request_guard import install_request_guard

from . import events, models
from .config import Settings
from .conversations.api import router as conversations_router
from .friends.api import router as friends_router
from .integrations.api import router as integrations_router
from .internal.api import handlers as internal_handlers
from .internal.api import router as internal_router
from .messages.api import router as messages_router
from .messages.sending import SendBatcher

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(
    settings: Settings | None = None, *, transports: Transports | None = None
) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
        if settings.auto_migrate:
            await migrate(engine, MIGRATIONS)
        sessionmaker = make_sessionmaker(engine)
        bus = create_bus(
            settings.amqp_url,
            exchange=settings.bus_exchange,
            queue_prefix=settings.bus_queue_prefix,
            connection_name="chat",
        )
        await bus.start()
        auth_http = service_client(
            "auth", settings.auth_url, internal_token=settings.internal_token, transports=transports
        )
        notify_http = service_client(
            "notify",
            settings.notify_url,
            internal_token=settings.internal_token,
            transports=transports,
            timeout=settings.presence_timeout_seconds,
        )
        outbox = Outbox(models.outbox)
        relay = OutboxRelay(
            outbox=outbox,
            sessionmaker=sessionmaker,
            bus=bus,
            service="chat",
            poll_seconds=settings.outbox_poll_seconds,
        )
        consumer = EventConsumer(
            service="chat",
            bus=bus,
            sessionmaker=sessionmaker,
            processed_table=models.processed_events,
            queue=events.QUEUE,
            bindings=events.BINDINGS,
            handlers=events.HANDLERS,
        )
        # SQLite has one writer at a time: one send transaction at once there.
        sender = SendBatcher(
            sessionmaker, outbox, concurrency=1 if engine.dialect.name == "sqlite" else 4
        )
        app.state.sender = sender
        app.state.engine, app.state.sessionmaker, app.state.bus = engine, sessionmaker, bus
        app.state.outbox, app.state.relay, app.state.consumer = outbox, relay, consumer
        app.state.notify = notify_http
        app.state.verifier = JWTVerifier(
            settings.jwks_url,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            http=auth_http,
        )
        app.state.readiness_checks.update(database=lambda: ping(engine), bus=bus.ping)
        relay.start()
        await consumer.start()
        try:
            yield
        finally:
            await sender.close()
            await consumer.stop()
            await relay.stop()
            await bus.close()
            await notify_http.aclose()
            await auth_http.aclose()
            await engine.dispose()

    app = FastAPI(title="Parley chat", lifespan=lifespan)
    app.state.settings = settings
    app.state.internal_handlers = internal_handlers(app.state)
    install_error_handlers(app)
    install_request_guard(app, max_body_bytes=settings.max_body_bytes)
    install_observability(app, service="chat", readiness={})
    for router in (
        friends_router,
        conversations_router,
        messages_router,
        integrations_router,
        internal_router,
    ):
        app.include_router(router)
    return app
