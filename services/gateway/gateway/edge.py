"""The gateway's own routes and middleware: /health, REST routing to the services, the web
client's files, and WebSockets handed to ws/endpoint.py."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .config import Settings
from .cors import OriginPolicy, install_cors
from .openapi import install_public_docs
from .proxy import service_for
from .runtime import gateway_of
from .web import (
    SecurityHeadersMiddleware,
    UnhandledErrorMiddleware,
    not_found_or_not_allowed,
    static_file,
)
from .ws.endpoint import serve

# TRACE too: the service then answers 405 with its own Allow (issue 14).
PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]


def install_edge(app: FastAPI, settings: Settings) -> None:
    @app.get("/health")
    async def health(request: Request) -> dict[str, object]:
        """Liveness of the edge and its open WebSocket count."""
        gateway = gateway_of(request.app.state)
        count = gateway.registry.count if gateway else 0
        return {"status": "ok", "message": "parley running", "websocket_connections": count}

    # /openapi.json and /docs are the whole public API's (openapi.py), not this app's own.
    install_public_docs(app)

    @app.api_route("/{path:path}", methods=PROXY_METHODS, include_in_schema=False)
    async def edge(request: Request, path: str) -> Response:
        service = service_for(request.url.path)
        if service is not None:
            gateway = gateway_of(request.app.state)
            assert gateway is not None
            return await gateway.proxy.forward(request, service)
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
    install_cors(app, OriginPolicy(settings.cors_origins))
    # Outermost: WebSockets go straight to their endpoint (ws/endpoint.py says why).
    app.add_middleware(WebSocketDispatch)


class WebSocketDispatch:
    """Hands websocket scopes to ws/endpoint.py; everything else goes on to FastAPI."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            gateway = gateway_of(scope["app"].state)
            if gateway is None:
                await send({"type": "websocket.close", "code": 1013})
                return
            await serve(gateway, scope, receive, send)
            return
        await self.app(scope, receive, send)
