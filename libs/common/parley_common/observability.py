"""Health, readiness, metrics and request ids for a service's FastAPI app."""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .logging import configure_logging
from .metrics import HTTP_REQUEST_DURATION
from .ops_server import OpsServer, Route, json_body

ReadinessCheck = Callable[[], Awaitable[bool]]
REQUEST_ID_HEADER = "x-request-id"
# A client's id is kept only when it is a plain token: anything else (non-ASCII bytes, spaces,
# a 10 KB value) is replaced, since it goes into every log line and every upstream call.
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")


def request_id_of(scope: Scope) -> str:
    """The request's id: the client's X-Request-ID when it is a plain token, else a new one;
    the scope's header is set to it, so the app and upstream calls see the same clean value."""
    headers = [
        (k, v) for k, v in scope.get("headers") or [] if k.lower() != REQUEST_ID_HEADER.encode()
    ]
    given = [v for k, v in scope.get("headers") or [] if k.lower() == REQUEST_ID_HEADER.encode()]
    request_id: str
    if len(given) == 1 and _REQUEST_ID.fullmatch(given[0]):
        request_id = bytes(given[0]).decode("ascii")
    else:
        request_id = uuid.uuid4().hex
    scope["headers"] = [*headers, (REQUEST_ID_HEADER.encode(), request_id.encode())]
    return request_id


class RequestContextMiddleware:
    """Binds a request id to logs, echoes it back, and times the request by route template."""

    def __init__(self, app: ASGIApp, *, service: str, fastapi_app: FastAPI) -> None:
        self.app = app
        self.service = service
        self.fastapi_app = fastapi_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            HTTP_REQUEST_DURATION.labels(
                self.service, scope["method"], self._route(scope), str(status)
            ).observe(time.perf_counter() - started)
            structlog.contextvars.unbind_contextvars("request_id")

    def _route(self, scope: Scope) -> str:
        # The router records the route it dispatched to in the (shared) scope. Matching every
        # route again here cost a loop per request, and since FastAPI wraps included routers
        # (no `path` on the wrapper) it labelled every included route "other".
        route = scope.get("route")
        if route is not None:
            path = getattr(route, "path", None)
            if isinstance(path, str):
                return path
            return "other"
        for candidate in self.fastapi_app.router.routes:
            match, _ = candidate.matches(scope)
            if match == Match.FULL:
                return getattr(candidate, "path", "other")
        return "unmatched"


def install_observability(
    app: FastAPI,
    *,
    service: str,
    readiness: dict[str, ReadinessCheck] | None = None,
    public: bool = False,
) -> None:
    """Adds `/healthz`, `/readyz` (every check must answer) and `/metrics`, and sets up JSON
    logging from `app.state.settings` (log_level, log_json) when the app carries settings.

    `/readyz` and `/metrics` are not public (ARCHITECTURE.md, Security rules): with
    `metrics_port` set they are served only on that internal port (with `/healthz`), started
    and stopped with the app's lifespan; without it, an internal service (whose port only the
    cluster reaches) serves them on its own port, and a `public` app (the gateway) nowhere."""
    settings = getattr(app.state, "settings", None)
    if settings is not None:
        configure_logging(
            service,
            level=getattr(settings, "log_level", "INFO"),
            json=getattr(settings, "log_json", True),
        )
    checks = readiness if readiness is not None else {}
    app.state.readiness_checks = checks
    metrics_port = int(getattr(settings, "metrics_port", 0) or 0)

    async def readiness_state() -> tuple[bool, dict[str, bool]]:
        results = {name: await check() for name, check in app.state.readiness_checks.items()}
        return all(results.values()), results

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    if not public and not metrics_port:

        @app.get("/readyz", include_in_schema=False)
        async def readyz() -> JSONResponse:
            ready, results = await readiness_state()
            return JSONResponse(
                {"status": "ok" if ready else "unavailable", "checks": results},
                status_code=200 if ready else 503,
            )

        @app.get("/metrics", include_in_schema=False)
        async def metrics() -> Response:
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    if metrics_port:
        _serve_ops_port(
            app,
            service,
            readiness_state,
            host=getattr(settings, "metrics_host", "127.0.0.1"),
            port=metrics_port,
        )

    app.add_middleware(RequestContextMiddleware, service=service, fastapi_app=app)


def _serve_ops_port(
    app: FastAPI,
    service: str,
    readiness_state: Callable[[], Awaitable[tuple[bool, dict[str, bool]]]],
    *,
    host: str,
    port: int,
) -> None:
    """Runs an OpsServer on `host:port` for as long as the app's lifespan."""

    async def healthz() -> tuple[int, str, bytes]:
        return json_body(200, {"status": "ok", "service": service})

    async def readyz() -> tuple[int, str, bytes]:
        ready, results = await readiness_state()
        status = "ok" if ready else "unavailable"
        return json_body(200 if ready else 503, {"status": status, "checks": results})

    async def metrics() -> tuple[int, str, bytes]:
        return 200, CONTENT_TYPE_LATEST, generate_latest()

    routes: dict[str, Route] = {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics}
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan_with_ops(application: FastAPI) -> AsyncIterator[Any]:
        async with inner(application) as state:
            server = OpsServer(routes, host=host, port=port)
            await server.start()
            application.state.ops_server = server
            try:
                yield state
            finally:
                await server.stop()

    app.router.lifespan_context = lifespan_with_ops
