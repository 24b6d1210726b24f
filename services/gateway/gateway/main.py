"""The gateway app: public REST routing, the WebSocket edge, the web client, /health."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request, Response

from parley_common import frames as fr
from parley_common.bus import create_bus
from parley_common.errors import NotFound, install_error_handlers
from parley_common.http import Transports
from parley_common.observability import install_observability
from parley_common.ratelimit import TokenBucket
from parley_common.request_guard import install_request_guard
from parley_common.store import create_store

from .addresses import ClientAddresses
from .config import Settings
from .cors import OriginPolicy, install_cors
from .proxy import RestProxy, service_for
from .runtime import Gateway
from .sessions import RevocationAwareVerifier, RevocationFeed, SessionDenylist
from .upstreams import Upstreams
from .web import SecurityHeadersMiddleware, UnhandledErrorMiddleware, static_file
from .ws.endpoint import router as ws_router
from .ws.hub import Hub
from .ws.presence import PresencePublisher
from .ws.reaper import reap_idle

PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def create_app(
    settings: Settings | None = None, *, transports: Transports | None = None
) -> FastAPI:
    settings = settings or Settings()
    origins = OriginPolicy(settings.cors_origins)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bus = create_bus(
            settings.amqp_url,
            exchange=settings.bus_exchange,
            queue_prefix=settings.bus_queue_prefix,
            connection_name=f"gateway-{settings.gateway_id}",
        )
        await bus.start()
        store = create_store(settings.redis_url)
        upstreams = Upstreams.create(settings, transports)
        denylist = SessionDenylist(store, default_ttl_seconds=settings.session_denylist_seconds)
        revocations = RevocationFeed(bus, denylist, gateway_id=settings.gateway_id)
        hub = Hub(
            bus=bus,
            gateway_id=settings.gateway_id,
            dedupe_size=settings.dedupe_cache_size,
            typing_timeout=settings.typing_timeout,
            store=store,
        )
        gateway = Gateway(
            settings=settings,
            bus=bus,
            hub=hub,
            upstreams=upstreams,
            verifier=RevocationAwareVerifier(
                settings.jwks_url,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                http=upstreams.auth,
                denylist=denylist,
            ),
            origins=origins,
            send_limiter=TokenBucket(
                store, prefix="gw:send", rate=settings.ws_send_rate, burst=settings.ws_send_burst
            ),
            presence=PresencePublisher(
                bus, settings.gateway_id, settings.presence_heartbeat_seconds
            ),
        )
        app.state.gateway = gateway
        app.state.proxy = RestProxy(
            upstreams,
            TokenBucket(
                store, prefix="gw:rest", rate=settings.rest_rate, burst=settings.rest_burst
            ),
            denylist,
            ClientAddresses(settings.trusted_proxies),
        )
        app.state.readiness_checks.update(bus=bus.ping)
        await revocations.start()
        await hub.start()
        gateway.presence.start()
        reaper = asyncio.create_task(reap_idle(hub, settings.idle_timeout), name="ws-reaper")
        try:
            yield
        finally:
            hub.closing = True
            reaper.cancel()
            conns = hub.connections()
            for conn in conns:
                conn.close(fr.CLOSE_RESTART, "server restart")
            await asyncio.gather(*(c.wait_closed() for c in conns), return_exceptions=True)
            await gateway.presence.stop()
            await hub.stop()
            await revocations.stop()
            await bus.close()
            await upstreams.aclose()
            await store.aclose()

    app = FastAPI(title="Parley gateway", lifespan=lifespan)
    app.state.settings = settings
    install_error_handlers(app)
    install_request_guard(app, max_body_bytes=settings.max_body_bytes)
    # The gateway's port is public: /readyz and /metrics only on the metrics port.
    install_observability(app, service="gateway", public=True)

    @app.get("/health")
    async def health(request: Request) -> dict[str, object]:
        """Liveness of the edge and its open WebSocket count."""
        gateway: Gateway | None = getattr(request.app.state, "gateway", None)
        count = gateway.hub.connection_count if gateway else 0
        return {"status": "ok", "message": "parley running", "websocket_connections": count}

    app.include_router(ws_router)

    @app.api_route("/{path:path}", methods=PROXY_METHODS, include_in_schema=False)
    async def edge(request: Request, path: str) -> Response:
        service = service_for(request.url.path)
        if service is not None:
            proxy: RestProxy = request.app.state.proxy
            return await proxy.forward(request, service)
        if request.method in ("GET", "HEAD"):
            found = static_file(settings.web_root, request.url.path)
            if found is not None:
                return found
        raise NotFound("Not Found")

    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(
        SecurityHeadersMiddleware,
        public_url=settings.public_url,
        connect_origins=settings.web_connect_origins,
    )
    install_cors(app, origins)
    return app
