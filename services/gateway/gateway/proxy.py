"""REST routing: the public API of PROTOCOL.md section 1, forwarded to the owning service.

`/internal/*` is never routed: only the public prefixes below are, and paths with dot
segments are refused before anything is forwarded.
"""

from __future__ import annotations

import asyncio
import uuid

import structlog
from fastapi import Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.background import BackgroundTask

from parley_common.errors import RateLimited, ServiceError, Unauthorized
from parley_common.ratelimit import TokenBucket
from parley_common.request_guard import is_upload

from .addresses import ClientAddresses
from .sessions import SessionDenylist, unverified_sid
from .upstreams import Upstreams, is_unreachable

log = structlog.get_logger(__name__)

# (prefix, service); a prefix matches itself and everything below it.
ROUTES: tuple[tuple[str, str], ...] = (
    ("/auth", "auth"),
    ("/users", "auth"),
    ("/.well-known/jwks.json", "auth"),
    ("/friends", "chat"),
    ("/blocks", "chat"),
    ("/conversations", "chat"),
    ("/messages", "chat"),
    ("/attachments", "chat"),
    ("/integrations", "chat"),
    ("/notifications", "notify"),
    ("/presence", "notify"),
    ("/devices", "notify"),
)
FORWARDED_REQUEST_HEADERS = (
    "authorization",
    "content-type",
    "accept",
    "accept-language",
    "user-agent",
)
_FORWARDED = frozenset(h.encode() for h in FORWARDED_REQUEST_HEADERS)
FORWARDED_RESPONSE_HEADERS = (
    "content-type",
    "www-authenticate",
    "retry-after",
    "cache-control",
    "location",
    "etag",
    "allow",  # a 405's list of methods
    # downloads (chat's /attachments): how a browser must treat the bytes
    "content-disposition",
    "content-security-policy",
    "x-content-type-options",
)
#: Downloads are streamed through, not held whole in the gateway.
STREAMED_PREFIX = "/attachments/"


def service_for(path: str) -> str | None:
    """The service that owns a public path, or None (also for any dot-segment trickery)."""
    segments = path.split("/")
    if any(s in (".", "..") or "%" in s for s in segments) or "//" in path:
        return None
    for prefix, service in ROUTES:
        if path == prefix or path.startswith(prefix + "/"):
            return service
    return None


class RestProxy:
    def __init__(
        self,
        upstreams: Upstreams,
        limiter: TokenBucket,
        denylist: SessionDenylist,
        addresses: ClientAddresses,
    ) -> None:
        self._addresses = addresses
        self._upstreams = upstreams
        self._limiter = limiter
        self._denylist = denylist

    async def forward(self, request: Request, service: str) -> Response:
        address = self._addresses.of(request)
        sid = unverified_sid(request.headers.get("authorization"))
        decision, revoked = await asyncio.gather(
            self._limiter.take(address),
            self._denylist.is_revoked(sid) if sid is not None else _false(),
        )
        if not decision.allowed:
            raise RateLimited(retry_after=decision.retry_after)
        if revoked:
            # The token's session was ended (logout, reuse, password change): PROTOCOL.md's text.
            raise Unauthorized("Could not validate credentials", code="session_revoked")
        # Raw bytes, as the client sent them: httpx would refuse to encode a non-ASCII str.
        headers = [(k, v) for k, v in request.scope["headers"] if k in _FORWARDED and v]
        # The request id is the one RequestContextMiddleware made clean (or generated).
        headers.append(
            (b"x-request-id", (request.headers.get("x-request-id") or uuid.uuid4().hex).encode())
        )
        headers.append((b"x-forwarded-for", address.encode()))
        client = self._upstreams.by_name(service)
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        target = raw_path.decode("latin-1")
        if request.url.query:
            target += "?" + request.url.query
        # An upload goes on as it arrives (the request guard bounds it), other bodies whole.
        body = request.stream() if is_upload(request.scope) else await request.body()
        upstream_request = client.build_request(
            request.method, target, headers=headers, content=body
        )
        streamed = request.url.path.startswith(STREAMED_PREFIX) and request.method == "GET"
        try:
            upstream = await client.send(upstream_request, stream=streamed)
        except Exception as exc:
            return self._failure(service, exc)
        out_headers = {
            h: v for h in FORWARDED_RESPONSE_HEADERS if (v := upstream.headers.get(h)) is not None
        }
        if streamed:
            if (length := upstream.headers.get("content-length")) is not None:
                out_headers["content-length"] = length
            return StreamingResponse(
                upstream.aiter_raw(),
                status_code=upstream.status_code,
                headers=out_headers,
                background=BackgroundTask(upstream.aclose),
            )
        return Response(upstream.content, status_code=upstream.status_code, headers=out_headers)

    def _failure(self, service: str, exc: Exception) -> Response:
        if is_unreachable(exc):
            log.warning("proxy.unavailable", service=service, error=repr(exc))
            error = ServiceError(
                f"{service} service temporarily unavailable", code="unavailable", status_code=503
            )
            return JSONResponse(
                {"detail": error.detail, "code": error.code, "retry_after": 1},
                status_code=503,
                headers={"Retry-After": "1"},
            )
        log.error("proxy.bad_upstream", service=service, error=repr(exc))
        return JSONResponse(
            {"detail": f"{service} service returned a broken response", "code": "bad_gateway"},
            status_code=502,
        )


async def _false() -> bool:
    return False
