"""Notify's app: create_app(settings) and the lifespan that owns the engine, bus, store,
outbox relay, event consumers, presence reaper and email sender."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from parley_common import db
from parley_common import store as store_mod
from parley_common.bus import create_bus
from parley_common.consumer import EventConsumer
from parley_common.errors import install_error_handlers
from parley_common.http import Transports, service_client
from parley_common.jwt_verify import JWTVerifier
from parley_common.observability import install_observability
from parley_common.outbox import Outbox, OutboxRelay
from parley_common.request_guard import install_request_guard

from . import blocks, events
from .config import Settings
from .emails.sender import EmailSender
from .emails.transport import create_transport
from .models import OUTBOX, PROCESSED_EVENTS
from .notifications.api import router as notifications_router
from .presence.api import handlers as presence_handlers
from .presence.api import router as presence_router
from .presence.service import PresenceService
from .presence.store import PresenceStore

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(
    settings: Settings | None = None, *, transports: Transports | None = None
) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = db.create_engine(settings.database_url, pool_size=settings.db_pool_size)
        if settings.auto_migrate:
            await db.migrate(engine, MIGRATIONS)
        sessionmaker = db.make_sessionmaker(engine)
        bus = create_bus(
            settings.amqp_url,
            exchange=settings.bus_exchange,
            queue_prefix=settings.bus_queue_prefix,
            connection_name="notify",
        )
        await bus.start()
        store = store_mod.create_store(settings.redis_url)
        auth_http = service_client(
            "auth", settings.auth_url, internal_token=settings.internal_token, transports=transports
        )
        outbox = Outbox(OUTBOX)
        presence_store = PresenceStore(
            store,
            prefix=settings.presence_key_prefix,
            gateway_ttl=settings.presence_gateway_ttl_seconds,
            tombstone_ttl=settings.presence_tombstone_seconds,
        )
        presence = PresenceService(
            store=presence_store, bus=bus, reap_seconds=settings.presence_reap_seconds
        )
        relay = OutboxRelay(
            outbox=outbox,
            sessionmaker=sessionmaker,
            bus=bus,
            service=settings.service_name,
            poll_seconds=settings.outbox_poll_seconds,
        )
        notify_events = events.NotifyEvents(
            settings=settings, outbox=outbox, presence=presence_store
        )
        consumer = EventConsumer(
            service=settings.service_name,
            bus=bus,
            sessionmaker=sessionmaker,
            processed_table=PROCESSED_EVENTS,
            queue=events.QUEUE,
            # The block projection (consent) rides on the same inbox queue.
            bindings=[*events.BINDINGS, *blocks.BINDINGS],
            handlers={**notify_events.handlers(), **blocks.HANDLERS},
            prepare=notify_events.prepare,
            has_work=notify_events.has_work,
            # Nothing notify does is on a live frame's path: batches may wait 50 ms to grow
            # (one presence lookup and at most one transaction each).
            linger=0.05,
        )
        sender = EmailSender(
            sessionmaker=sessionmaker,
            transport=create_transport(settings.smtp_url, timeout=settings.smtp_timeout_seconds),
            settings=settings,
        )
        app.state.sessionmaker = sessionmaker
        app.state.bus = bus
        app.state.outbox = outbox
        app.state.presence = presence
        app.state.email_sender = sender
        app.state.verifier = JWTVerifier(
            settings.jwks_url,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            http=auth_http,
        )
        app.state.readiness_checks.update(
            database=lambda: db.ping(engine),
            store=lambda: store_mod.ping(store),
            bus=bus.ping,
        )
        relay.start()
        await consumer.start()
        await presence.start()
        sender.start()
        try:
            yield
        finally:
            await sender.stop()
            await presence.stop()
            await consumer.stop()
            await relay.stop()
            await bus.close()
            await auth_http.aclose()
            await store.aclose()
            await engine.dispose()

    app = FastAPI(title="Parley notify", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.internal_handlers = presence_handlers(app.state)
    install_error_handlers(app)
    install_request_guard(app, max_body_bytes=settings.max_body_bytes)
    install_observability(app, service=settings.service_name, readiness={})
    app.include_router(notifications_router)
    app.include_router(presence_router)
    return app
