"""The gateway app: public REST routing, the WebSocket edge, the web client, /health."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from parley_common import frames as fr
from parley_common.bus import create_bus
from parley_common.errors import install_error_handlers
from parley_common.http import Transports
from parley_common.observability import install_observability
from parley_common.ratelimit import TokenBucket
from parley_common.request_guard import install_request_guard
from parley_common.store import create_store

from .addresses import ClientAddresses
from .config import Settings
from .cors import OriginPolicy, install_cors
from .openapi import install_public_docs
from .proxy import RestProxy, service_for
from .runtime import Gateway
from .sessions import RevocationAwareVerifier, RevocationFeed, SessionDenylist
from .upstreams import DirectHandlers, Upstreams
from .web import (
    SecurityHeadersMiddleware,
    UnhandledErrorMiddleware,
    not_found_or_not_allowed,
    static_file,
)
from .ws.endpoint import serve
from .ws.fanout import Fanout
from .ws.presence import PresencePublisher
from .ws.reaper import reap_idle
from .ws.registry import Registry
from .ws.sends import ChatSends
from .ws.setup import SocketSetup
from .ws.viewers import Viewers

# TRACE too: the service then answers 405 with its own Allow (issue 14).
PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]


def create_app(
    settings: Settings | None = None,
    *,
    transports: Transports | None = None,
    direct: DirectHandlers | None = None,
) -> FastAPI:
    """`direct`: other services' internal routes callable in this process (the embedded
    mode), by service name."""
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
        upstreams = Upstreams.create(settings, transports, direct)
        denylist = SessionDenylist(store, default_ttl_seconds=settings.session_denylist_seconds)
        revocations = RevocationFeed(bus, denylist, gateway_id=settings.gateway_id)
        registry = Registry()
        viewers = Viewers(registry=registry, bus=bus, gateway_id=settings.gateway_id, store=store)
        fanout = Fanout(
            registry=registry,
            viewers=viewers,
            dedupe_size=settings.dedupe_cache_size,
            typing_timeout=settings.typing_timeout,
        )
        gateway = Gateway(
            settings=settings,
            bus=bus,
            upstreams=upstreams,
            verifier=RevocationAwareVerifier(
                settings.jwks_url,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                http=upstreams.auth,
                denylist=denylist,
            ),
            origins=origins,
            registry=registry,
            viewers=viewers,
            fanout=fanout,
            setup=SocketSetup(upstreams),
            sends=ChatSends(
                upstreams.chat_calls,
                TokenBucket(
                    store,
                    prefix="gw:send",
                    rate=settings.ws_send_rate,
                    burst=settings.ws_send_burst,
                ),
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
        # The replica's own queue: events for its users and conversations (bound as sockets
        # come and go) and those for every gateway (`gw.#`); no acks, it dies with us.
        registry.subscription = await bus.subscribe_batches(
            f"gateway.{settings.gateway_id}",
            ["gw.#"],
            fanout.handle_batch,
            exclusive=True,
            auto_ack=True,
            max_batch=500,
            max_attempts=1,
        )
        bus.on_reconnect.append(fanout.on_bus_reconnect)
        viewers.start()
        gateway.presence.start()
        reaper = asyncio.create_task(reap_idle(registry, settings.idle_timeout), name="ws-reaper")
        try:
            yield
        finally:
            gateway.closing = True
            reaper.cancel()
            conns = list(registry.connections())
            for conn in conns:
                conn.close(fr.CLOSE_RESTART, "server restart")
            await asyncio.gather(*(c.wait_closed() for c in conns), return_exceptions=True)
            await gateway.presence.stop()
            await viewers.stop()
            fanout.typing.stop()
            await registry.subscription.cancel()
            await gateway.sends.close()
            await gateway.setup.close()
            await revocations.stop()
            await bus.close()
            await upstreams.aclose()
            await store.aclose()

    # /openapi.json and /docs are the whole public API's (openapi.py), not this app's own.
    app = FastAPI(
        title="Parley gateway", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None
    )
    app.state.settings = settings
    install_error_handlers(app)
    install_request_guard(app, max_body_bytes=settings.max_body_bytes)
    # The gateway's port is public: /readyz and /metrics only on the metrics port.
    install_observability(app, service="gateway", public=True)

    @app.get("/health")
    async def health(request: Request) -> dict[str, object]:
        """Liveness of the edge and its open WebSocket count."""
        gateway: Gateway | None = getattr(request.app.state, "gateway", None)
        count = gateway.registry.count if gateway else 0
        return {"status": "ok", "message": "parley running", "websocket_connections": count}

    install_public_docs(app)

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
        raise not_found_or_not_allowed(request)

    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(
        SecurityHeadersMiddleware,
        public_url=settings.public_url,
        connect_origins=settings.web_connect_origins,
    )
    install_cors(app, origins)
    # Outermost: WebSockets go straight to their endpoint (ws/endpoint.py says why).
    app.add_middleware(WebSocketDispatch)
    return app


class WebSocketDispatch:
    """Hands websocket scopes to ws/endpoint.py; everything else goes on to FastAPI."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            gateway: Gateway | None = getattr(scope["app"].state, "gateway", None)
            if gateway is None:
                await send({"type": "websocket.close", "code": 1013})
                return
            await serve(gateway, scope, receive, send)
            return
        await self.app(scope, receive, send)
