"""The WebSocket endpoint, as a plain ASGI app: routes `/ws` and `/ws/{token}`, checks the
handshake (token, Origin), then runs one session per socket.

It sits in front of FastAPI's middleware and router (main.py dispatches websocket scopes here):
a socket lives for hours, and every layer it passes through stays on its task's stack for all
that time (memory per connection), while none of them has anything to do for a WebSocket.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import orjson
from starlette.types import Receive, Scope, Send

from parley_common import frames as fr
from parley_common.jwt_verify import AccessClaims, InvalidToken

from .connection import Connection
from .protocol import direct
from .session import Session

if TYPE_CHECKING:
    from ..runtime import Gateway


def _token_from(scope: Scope) -> tuple[bool, str | None]:
    """(is a WebSocket route, the token it carries if any)."""
    path: str = scope["path"]
    if path == "/ws":
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if query.get("token"):
            return True, query["token"][0]
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    return True, token.strip()
        return True, None
    if path.startswith("/ws/") and "/" not in path[4:] and path[4:]:
        return True, path[4:]
    return False, None


def _origin(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"origin":
            return str(value.decode("latin-1"))
    return None


async def serve(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    route, token = _token_from(scope)
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if not route or gw.closing or not gw.origins.allows(_origin(scope)):
        # Closing before accepting: the server answers the handshake with HTTP 403.
        await send({"type": "websocket.close", "code": 1008})
        return
    if token is not None:
        try:
            claims = await gw.verifier.verify(token)
        except InvalidToken:
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "websocket.accept"})
    else:
        await send({"type": "websocket.accept"})
        authenticated = await _first_frame_auth(gw, receive)
        if authenticated is None:
            with contextlib.suppress(Exception):
                await send(
                    {
                        "type": "websocket.close",
                        "code": fr.CLOSE_AUTH,
                        "reason": "authentication required",
                    }
                )
            return
        token, claims = authenticated
    protocol = direct(scope)
    if protocol is not None:
        protocol.forget_handshake()
    conn = Connection(
        send,
        protocol,
        user_id=claims.user_id,
        username=claims.username,
        sid=claims.sid,
        token=token,
        expires_at=claims.exp,
        queue_size=gw.settings.ws_send_queue_size,
    )
    await Session(gw, conn).run(receive)


async def _first_frame_auth(gw: Gateway, receive: Receive) -> tuple[str, AccessClaims] | None:
    try:
        message = await asyncio.wait_for(receive(), gw.settings.ws_auth_timeout)
        text = message.get("text") or (message.get("bytes") or b"").decode("utf-8", "replace")
        if len(text) > gw.settings.ws_max_frame_bytes:
            return None
        frame = fr.parse_client_frame(orjson.loads(text))
        if not isinstance(frame, fr.AuthFrame):
            return None
        return frame.token, await gw.verifier.verify(frame.token)
    except Exception:
        return None
