"""One service's runtime: what every service runs on (engine, sessionmaker, store, bus, outbox
relay, event consumers, HTTP clients, token verifier), built from its settings and a small
declaration, started and stopped by one lifespan in a fixed order with bounded steps.

A service's main.py declares itself (`Service(...)`) and calls `create_service_app`; its own
objects (a send batcher, a presence service, the gateway's registry) are its `parts`, built by
the declaration's `build` hook, which also adds the steps that start and stop them. Routes and
dependencies reach everything through `runtime_of(app.state)`, typed per service.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
import redis.asyncio as redis
import structlog
from fastapi import APIRouter, FastAPI
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.datastructures import State

from . import db
from . import store as store_mod
from .bus import Bus, create_bus
from .consumer import BatchPreparer, EventConsumer, EventHandler, WorkCheck
from .db_metrics import watch_pool
from .dead_letter_gauge import DeadLetterGauge
from .errors import install_error_handlers
from .http import Transports, service_client
from .internal_calls import InternalRoute
from .internal_fast_path import InternalFastPath
from .jwt_verify import JWTVerifier
from .observability import install_observability
from .outbox import Outbox, OutboxRelay
from .request_guard import install_request_guard
from .retention import Purge, Retention, standard_purges
from .settings import BaseServiceSettings

log = structlog.get_logger(__name__)

S = TypeVar("S", bound=BaseServiceSettings)
P = TypeVar("P")

#: A backend that stops answering must not hang a shutdown (or a startup) forever.
STOP_STEP_SECONDS = 10.0
START_STEP_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Step:
    """One thing the lifespan starts (in declaration order) and stops (in reverse order).
    `start` may be a plain function (a task spawner) or a coroutine function;
    `start_seconds=None`: unbounded (migrations may take as long as they take)."""

    name: str
    start: Callable[[], object] | None = None
    stop: Callable[[], Awaitable[object]] | None = None
    start_seconds: float | None = START_STEP_SECONDS


@dataclass(frozen=True, slots=True, kw_only=True)
class Client:
    """An HTTP client of another service: `timeout` from the settings when given."""

    service: str
    timeout: Callable[[Any], float] | None = None


@dataclass(kw_only=True)
class Runtime(Generic[S, P]):
    """Everything one service process runs on; kept on `app.state.runtime`."""

    name: str
    settings: S
    bus: Bus
    transports: Transports | None = None
    engine: AsyncEngine | None = None
    _sessionmaker: async_sessionmaker[AsyncSession] | None = None
    _store: redis.Redis | None = None
    _outbox: Outbox | None = None
    processed_table: Table | None = None
    relay: OutboxRelay | None = None
    consumers: list[EventConsumer] = field(default_factory=list)
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    verifier: JWTVerifier | None = None
    steps: list[Step] = field(default_factory=list)
    #: What retention deletes beyond the outbox and inbox rows (added by `build`).
    purges: list[Purge] = field(default_factory=list)
    retention: Retention | None = None
    _parts: P | None = None

    # Typed access to what a service with a database (or a store) always has: a missing one is
    # a wiring error, found by the first request that needs it.
    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        assert self._sessionmaker is not None, f"{self.name} has no database"
        return self._sessionmaker

    @property
    def store(self) -> redis.Redis:
        assert self._store is not None, f"{self.name} has no store"
        return self._store

    @property
    def outbox(self) -> Outbox:
        assert self._outbox is not None, f"{self.name} has no outbox"
        return self._outbox

    @property
    def parts(self) -> P:
        assert self._parts is not None, f"{self.name} is not started"
        return self._parts

    def client(self, service: str) -> httpx.AsyncClient:
        return self.clients[service]

    def add_step(
        self,
        name: str,
        start: Callable[[], object] | None = None,
        stop: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.steps.append(Step(name, start, stop))

    def add_consumer(
        self,
        *,
        queue: str,
        bindings: Iterable[str],
        handlers: Mapping[str, EventHandler],
        prepare: BatchPreparer | None = None,
        has_work: WorkCheck | None = None,
        linger: float = 0.0,
    ) -> EventConsumer:
        """An idempotent consumer on the service's inbox table, started after the relay."""
        assert self.processed_table is not None, f"{self.name} declares no inbox table"
        consumer = EventConsumer(
            service=self.name,
            bus=self.bus,
            sessionmaker=self.sessionmaker,
            processed_table=self.processed_table,
            queue=queue,
            bindings=bindings,
            handlers=handlers,
            prepare=prepare,
            has_work=has_work,
            linger=linger,
        )
        self.consumers.append(consumer)
        self.add_step(f"consumer:{queue}", consumer.start, consumer.stop)
        return consumer


@dataclass(frozen=True, kw_only=True)
class Service(Generic[S, P]):
    """What makes one service: its name, routes and backends; `build` makes its own parts."""

    name: str
    title: str
    routers: Sequence[APIRouter]
    build: Callable[[Runtime[S, P]], Awaitable[P]]
    migrations: Path | None = None
    outbox: Table | None = None
    processed: Table | None = None
    store: bool = False
    #: /readyz waits for the store too (the gateway's readiness has always been the bus only).
    store_in_readiness: bool = True
    clients: Sequence[Client] = ()
    #: Verify access tokens against auth's JWKS (over the "auth" client).
    verify_tokens: bool = False
    #: A public port never serves /readyz and /metrics (ARCHITECTURE.md, Security rules).
    public: bool = False
    #: The live path's internal routes as handlers (parley_common.internal_calls), served in
    #: front of FastAPI (parley_common.internal_fast_path) and called in process when embedded.
    internal_handlers: Callable[[State], dict[str, InternalRoute[Any]]] | None = None
    #: The bus connection's name, as the broker shows it (default: the service's name).
    bus_name: Callable[[S], str] | None = None
    #: Routes, middleware and the like beyond `routers`, added after them.
    configure: Callable[[FastAPI, S], None] | None = None
    #: /openapi.json and /docs of this app's own routes (the gateway serves the whole public
    #: API's instead, gateway/openapi.py).
    own_docs: bool = True


def runtime_of(state: State) -> Runtime[Any, Any]:
    """The runtime of a started app (`app.state`); typed per service by its deps.py."""
    runtime: Runtime[Any, Any] | None = getattr(state, "runtime", None)
    if runtime is None:
        raise RuntimeError("the service's lifespan has not started")
    return runtime


def create_service_app(
    service: Service[S, P], settings: S, *, transports: Transports | None = None
) -> FastAPI:
    """The service's FastAPI app: error handlers, request guard, observability, its routes,
    and a lifespan that builds and runs its runtime."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        async with _running(service, settings, transports, app):
            yield

    docs: dict[str, Any] = (
        {} if service.own_docs else dict(openapi_url=None, docs_url=None, redoc_url=None)
    )
    app = FastAPI(
        title=service.title,
        version="0.1.0",
        lifespan=lifespan,
        # Parley's metrics are Prometheus's and its logs structlog's. FastAPI's own
        # OpenTelemetry asks three global providers whether they are configured on every
        # request: 2.7 % of a chat worker's py-spy samples under bench-chat, for nothing.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # The routers' routes themselves, not include_router: FastAPI 0.165 builds an included
        # router's routes again for every app on its first request (60-110 ms for chat's 54,
        # in every test that starts an app) and walks the included routers on every request.
        # Prefixes, tags and dependencies are already on the routes (APIRouter.add_api_route);
        # `app.dependency_overrides` does not reach them (Parley's tests use the real parts).
        routes=[route for router in service.routers for route in router.routes],
        **docs,
    )
    app.state.settings = settings
    if service.internal_handlers is not None:
        app.state.internal_handlers = service.internal_handlers(app.state)
    install_error_handlers(app)
    install_request_guard(
        app, max_body_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes
    )
    install_observability(app, service=service.name, readiness={}, public=service.public)
    if service.configure is not None:
        service.configure(app, settings)
    if service.internal_handlers is not None:
        # Added last: the outermost of the app's own middleware.
        app.add_middleware(
            InternalFastPath,
            routes=app.state.internal_handlers,
            token=settings.internal_token,
            max_body_bytes=settings.max_body_bytes,
            service=service.name,
        )
    return app


@asynccontextmanager
async def _running(
    service: Service[S, P], settings: S, transports: Transports | None, app: FastAPI
) -> Any:
    runtime: Runtime[S, P] = Runtime(
        name=service.name,
        settings=settings,
        transports=transports,
        bus=create_bus(
            settings.amqp_url,
            exchange=settings.bus_exchange,
            queue_prefix=settings.bus_queue_prefix,
            connection_name=service.bus_name(settings) if service.bus_name else service.name,
            queue_type=settings.bus_queue_type,
        ),
        processed_table=service.processed,
    )
    started: list[Step] = []
    try:
        for step in _backend_steps(service, runtime):
            await _start(step, started)
        runtime._parts = await service.build(runtime)
        # The relay and consumers start after the service's parts exist, and stop before them.
        if runtime.relay is not None:
            relay = runtime.relay
            await _start(Step("outbox_relay", relay.start, relay.stop), started)
        if runtime.consumers:
            gauge = DeadLetterGauge(
                service=service.name,
                bus=runtime.bus,
                queues=[c.queue for c in runtime.consumers],
                interval=settings.dead_letter_check_seconds,
            )
            runtime.steps.append(Step("dead_letter_gauge", gauge.start, gauge.stop))
        if runtime.engine is not None:
            runtime.retention = _retention(service, runtime)
            runtime.steps.append(Step("retention", runtime.retention.start, runtime.retention.stop))
        for step in runtime.steps:
            await _start(step, started)
        app.state.runtime = runtime
        app.state.readiness_checks.update(_readiness(runtime, service.store_in_readiness))
        if settings.gc_freeze:
            # What exists now lives as long as the process: the collector need not walk it
            # again at every full collection (gen-2 pauses of 70 ms in a loaded gateway).
            gc.freeze()
        yield runtime
    finally:
        for step in reversed(started):
            await _stop(step)


def _retention(service: Service[S, P], rt: Runtime[S, P]) -> Retention:
    settings = rt.settings
    return Retention(
        service=service.name,
        sessionmaker=rt.sessionmaker,
        purges=standard_purges(service.outbox, service.processed, settings) + rt.purges,
        interval=settings.retention_interval_seconds,
        batch_size=settings.retention_batch_size,
        pause_factor=settings.retention_pause_factor,
    )


def _backend_steps(service: Service[S, P], rt: Runtime[S, P]) -> list[Step]:
    """Engine (and migrations), store, bus, HTTP clients, verifier and relay, in that order."""
    settings = rt.settings
    steps: list[Step] = []
    if service.migrations is not None:
        migrations = service.migrations

        async def open_database() -> None:
            rt.engine = db.create_engine(settings.database_url, pool_size=settings.db_pool_size)
            watch_pool(service.name, rt.engine)
            if settings.auto_migrate:
                await db.migrate(rt.engine, migrations)
            await db.warn_if_autovacuum_off(rt.engine, service.name)
            rt._sessionmaker = db.make_sessionmaker(rt.engine)
            if service.outbox is not None:
                rt._outbox = Outbox(service.outbox)
                rt.relay = OutboxRelay(
                    outbox=rt._outbox,
                    sessionmaker=rt._sessionmaker,
                    bus=rt.bus,
                    service=service.name,
                    poll_seconds=settings.outbox_poll_seconds,
                )

        async def close_database() -> None:
            if rt.engine is not None:
                await rt.engine.dispose()

        steps.append(Step("database", open_database, close_database, start_seconds=None))
    if service.store:

        async def open_store() -> None:
            rt._store = store_mod.create_store(settings.redis_url)

        async def close_store() -> None:
            await rt.store.aclose()

        steps.append(Step("store", open_store, close_store))
    steps.append(Step("bus", rt.bus.start, rt.bus.close))
    for decl in service.clients:
        steps.append(_client_step(rt, decl))
    if service.verify_tokens:

        async def make_verifier() -> None:
            rt.verifier = JWTVerifier(
                settings.jwks_url,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                key_max_age_seconds=settings.jwks_max_age_seconds,
                http=rt.client("auth"),
            )

        steps.append(Step("verifier", make_verifier))
    return steps


def _client_step(rt: Runtime[Any, Any], decl: Client) -> Step:
    settings = rt.settings
    url: str = getattr(settings, f"{decl.service}_url")

    async def open_client() -> None:
        rt.clients[decl.service] = service_client(
            decl.service,
            url,
            internal_token=settings.internal_token,
            transports=rt.transports,
            timeout=10.0 if decl.timeout is None else decl.timeout(settings),
        )

    async def close_client() -> None:
        await rt.clients[decl.service].aclose()

    return Step(f"http:{decl.service}", open_client, close_client)


def _readiness(rt: Runtime[Any, Any], with_store: bool) -> dict[str, Callable[[], Awaitable[bool]]]:
    checks: dict[str, Callable[[], Awaitable[bool]]] = {}
    if rt.engine is not None:
        engine = rt.engine
        checks["database"] = lambda: db.ping(engine)
    if rt._store is not None and with_store:
        store = rt._store
        checks["store"] = lambda: store_mod.ping(store)
    checks["bus"] = rt.bus.ping
    return checks


async def _start(step: Step, started: list[Step]) -> None:
    if step.start is not None:
        try:
            async with asyncio.timeout(step.start_seconds):
                started_ = step.start()
                if inspect.isawaitable(started_):
                    await started_
        except TimeoutError:
            raise RuntimeError(f"startup step {step.name} took over {step.start_seconds} s")
    started.append(step)


async def _stop(step: Step) -> None:
    if step.stop is None:
        return
    try:
        async with asyncio.timeout(STOP_STEP_SECONDS):
            await step.stop()
    except TimeoutError:
        log.warning("shutdown_step_timed_out", step=step.name, seconds=STOP_STEP_SECONDS)
    except Exception:
        # One failed step must not keep the later ones (the database, the bus) open.
        log.warning("shutdown_step_failed", step=step.name, exc_info=True)
