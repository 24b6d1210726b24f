"""Edge HTTP: security headers, errors as JSON even when unhandled, the web client's files."""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path
from urllib.parse import urlsplit

import structlog
from fastapi import Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley_common.errors import NotFound, ServiceError, allowed_methods

log = structlog.get_logger(__name__)

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


_HOST = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def content_security_policy(websocket_origin: str | None, connect_origins: list[str]) -> str:
    """No inline script or style attribute, nothing from elsewhere; the page may connect to its
    own origin, its WebSocket origin (ws:/wss: are not covered by 'self' in every browser) and
    the API origins the deployment allows (PARLEY_WEB_CONNECT_ORIGINS)."""
    connect = " ".join(
        ["'self'", *([websocket_origin] if websocket_origin else []), *connect_origins]
    )
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        f"connect-src {connect}; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )


class SecurityHeadersMiddleware:
    """Security headers on every response, a Content-Security-Policy included, and HSTS when
    the public URL is https."""

    def __init__(
        self, app: ASGIApp, *, public_url: str = "", connect_origins: list[str] | None = None
    ) -> None:
        self.app = app
        self.public = urlsplit(public_url) if public_url else None
        self.connect_origins = [*(connect_origins or [])]
        for origin in connect_origins or []:  # their WebSocket origins too
            parts = urlsplit(origin)
            if parts.scheme in ("http", "https") and parts.netloc:
                ws = "wss" if parts.scheme == "https" else "ws"
                self.connect_origins.append(f"{ws}://{parts.netloc}")
        self.https = self.public is not None and self.public.scheme == "https"
        # With a public URL the policy is the same for every request: built once.
        self.fixed_csp = (
            content_security_policy(self._ws_origin(self.public.netloc), self.connect_origins)
            if self.public is not None and self.public.netloc
            else None
        )

    def _ws_origin(self, host: str) -> str | None:
        if not _HOST.fullmatch(host):
            return None  # a Host header no browser would send: no WebSocket origin for it
        return f"{'wss' if self.https else 'ws'}://{host}"

    def _csp(self, scope: Scope) -> bytes:
        if self.fixed_csp is not None:
            return self.fixed_csp.encode()
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        return content_security_policy(self._ws_origin(host), self.connect_origins).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = [*SECURITY_HEADERS, (b"content-security-policy", self._csp(scope))]
        if self.https:
            headers.append(HSTS)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in headers if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


class UnhandledErrorMiddleware:
    """Inside CORS, so even a crash answers JSON with the CORS headers (never a bare 500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception:
            log.exception("http.unhandled", path=scope.get("path"))
            if started:
                raise
            response = JSONResponse(
                {"detail": "Internal server error", "code": "internal_error"}, status_code=500
            )
            await response(scope, receive, send)


def not_found_or_not_allowed(request: Request) -> ServiceError:
    """For a path nothing routes: 405 with `Allow` when one of the gateway's own routes serves
    it with other methods (/health, /openapi.json), else 404."""
    own = [r for r in request.app.router.routes if getattr(r, "path", None) != "/{path:path}"]
    allow = allowed_methods(own, request.url.path)
    if allow:
        return ServiceError(
            "Method Not Allowed",
            code="method_not_allowed",
            status_code=405,
            headers={"Allow": ", ".join(allow)},
        )
    return NotFound("Not Found")


def static_file(web_root: Path, path: str) -> Response | None:
    """A file of the web client under `web_root`, or None; never outside it."""
    root = web_root.resolve()
    relative = path.lstrip("/") or "index.html"
    try:
        target = (root / relative).resolve()
    except (OSError, ValueError):
        return None
    if not target.is_relative_to(root):
        return None
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return None
    media_type, _ = mimetypes.guess_type(target.name)
    return FileResponse(target, media_type=media_type)
