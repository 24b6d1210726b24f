"""The auth service's app: users, passwords, tokens and signing keys."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import structlog
from fastapi import FastAPI

from parley_common import db
from parley_common import store as store_mod
from parley_common.bus import create_bus
from parley_common.errors import install_error_handlers
from parley_common.http import Transports
from parley_common.jwt_verify import JWTVerifier
from parley_common.logging import configure_logging
from parley_common.observability import install_observability
from parley_common.outbox import Outbox, OutboxRelay
from parley_common.request_guard import install_request_guard

from . import keys
from .api import internal, router
from .config import Settings
from .keys import KeyRing
from .models import outbox as outbox_table
from .passwords import PasswordHasher
from .service import AuthContext
from .throttle import LoginThrottle

MIGRATIONS = Path(__file__).parent / "migrations"
SHUTDOWN_STEP_SECONDS = 10.0

log = structlog.get_logger(__name__)


async def _bounded(step: str, closing: Awaitable[object]) -> None:
    try:
        async with asyncio.timeout(SHUTDOWN_STEP_SECONDS):
            await closing
    except TimeoutError:
        log.warning("auth.shutdown_step_timed_out", step=step, seconds=SHUTDOWN_STEP_SECONDS)


def create_app(
    settings: Settings | None = None, *, transports: Transports | None = None
) -> FastAPI:
    """`transports` is accepted for symmetry with the other services; auth calls no one."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)
        engine = db.create_engine(settings.database_url, pool_size=settings.db_pool_size)
        if settings.auto_migrate:
            await db.migrate(engine, MIGRATIONS)
        sessionmaker = db.make_sessionmaker(engine)
        store = store_mod.create_store(settings.redis_url)
        bus = create_bus(
            settings.amqp_url,
            exchange=settings.bus_exchange,
            queue_prefix=settings.bus_queue_prefix,
            connection_name="auth",
        )
        await bus.start()
        keyring = KeyRing()
        await keyring.load(sessionmaker)
        outbox = Outbox(outbox_table)
        relay = OutboxRelay(
            outbox=outbox,
            sessionmaker=sessionmaker,
            bus=bus,
            service="auth",
            poll_seconds=settings.outbox_poll_seconds,
        )
        relay.start()

        async def serve_jwks(_: httpx.Request) -> httpx.Response:
            async with sessionmaker() as session:
                return httpx.Response(200, json=await keys.jwks(session))

        # Auth verifies its own tokens exactly as every other service does, reading the JWKS
        # straight from its database instead of over the network.
        jwks_http = httpx.AsyncClient(transport=httpx.MockTransport(serve_jwks))
        app.state.verifier = JWTVerifier(
            "http://auth.local/.well-known/jwks.json",
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            http=jwks_http,
        )
        app.state.engine = engine
        app.state.sessionmaker = sessionmaker
        app.state.store = store
        app.state.bus = bus
        app.state.auth = AuthContext(
            settings=settings,
            hasher=PasswordHasher(
                time_cost=settings.argon2_time_cost,
                memory_cost=settings.argon2_memory_cost,
                parallelism=settings.argon2_parallelism,
            ),
            keyring=keyring,
            throttle=LoginThrottle(
                store,
                max_per_user=settings.login_max_failures_per_user,
                max_per_address=settings.login_max_failures_per_address,
                window_seconds=settings.login_failure_window_seconds,
            ),
            outbox=outbox,
        )
        app.state.readiness_checks.update(
            database=lambda: db.ping(engine),
            store=lambda: store_mod.ping(store),
            bus=bus.ping,
        )
        try:
            yield
        finally:
            # Each step is bounded: a backend that stops answering must not hang the shutdown.
            await _bounded("outbox_relay", relay.stop())
            await _bounded("bus", bus.close())
            await _bounded("jwks_http", jwks_http.aclose())
            await _bounded("store", store.aclose())
            await _bounded("database", engine.dispose())

    app = FastAPI(title="Parley auth", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    install_error_handlers(app)
    install_request_guard(app, max_body_bytes=settings.max_body_bytes)
    install_observability(app, service="auth", readiness={})
    app.include_router(router)
    app.include_router(internal)
    return app
