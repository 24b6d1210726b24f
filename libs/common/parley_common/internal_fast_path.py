"""The live path's internal routes (a gateway's WebSocket sends, socket setups, presence
lookups) served straight from their handlers, in front of FastAPI.

Each of these calls carries a batch of users' work, and the gateway makes one per batch, so
they are few; but FastAPI's middleware, routing, dependency solving and response model cost
more than a small batch's work (py-spy, 1,000 serial connects: 26 % of chat's samples in the
FastAPI layers of `/internal/users/lookup`). The embedded mode already calls the same handlers
in process (parley_common.internal_calls); this is their HTTP form.

Only a request that the route would accept takes this path: POST, the service token, a JSON
body within the size limit that the request guard lets through and the route's model validates.
Anything else goes on to the app unchanged (its body replayed), which answers as it always did
(400, 403, 413, 422). Validation changes nothing (InternalRoute), so handing an invalid body on
is safe.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from typing import Any

import orjson
import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from .internal import SERVICE_TOKEN_HEADER
from .internal_calls import InternalRoute
from .metrics import HTTP_REQUEST_DURATION
from .observability import request_id_of
from .request_guard import check_body, read_body, replay

_TOKEN = SERVICE_TOKEN_HEADER.lower().encode()
_JSON_HEADERS = [(b"content-type", b"application/json")]


class InternalFastPath:
    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Mapping[str, InternalRoute[Any]],
        token: str,
        max_body_bytes: int,
        service: str,
    ) -> None:
        self.app = app
        self.routes = dict(routes)
        self.token = token.encode()
        self.max_body_bytes = max_body_bytes
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is None or scope["method"] != "POST" or not self._acceptable(scope):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # The declared length is within the limit (_acceptable), and servers hold a body to it.
        body, connected = await read_body(receive, self.max_body_bytes)
        if not connected:
            return
        try:
            # What the request guard refuses (NUL, lone surrogates, deep nesting) is refused
            # by the app, as before.
            if check_body(body, "application/json") is not None:
                raise ValueError("refused by the request guard")
            parsed = route.body.model_validate_json(body)
        except ValueError:  # pydantic's ValidationError is one
            await self.app(scope, replay(body, True, receive), send)
            return
        # The caller's request id goes into what the handler logs, as on every other route.
        structlog.contextvars.bind_contextvars(request_id=request_id_of(scope))
        try:
            answer = orjson.dumps(await route.run(parsed))
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
        headers = [*_JSON_HEADERS, (b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})
        HTTP_REQUEST_DURATION.labels(self.service, "POST", scope["path"], "200").observe(
            time.perf_counter() - started
        )

    def _acceptable(self, scope: Scope) -> bool:
        """The service token, and a JSON body of a declared length within the limit."""
        token = length = content_type = b""
        for name, value in scope["headers"]:
            if name == _TOKEN:
                token = value
            elif name == b"content-length":
                length = value
            elif name == b"content-type":
                content_type = value
        return (
            bool(self.token)
            and hmac.compare_digest(token, self.token)
            and length.isdigit()
            and int(length) <= self.max_body_bytes
            and content_type.split(b";")[0].strip().lower() == b"application/json"
        )
