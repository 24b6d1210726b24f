"""The WebSocket endpoint: handshake checks (token, Origin), then one session per socket."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime

import orjson
import structlog
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from parley_common import frames as fr
from parley_common.jwt_verify import AccessClaims, InvalidToken

from ..runtime import Gateway
from .connection import Connection
from .handlers import FrameHandler
from .presence import conversation_ids, friend_states

log = structlog.get_logger(__name__)
router = APIRouter()

# Close before accept: the server answers the handshake with HTTP 403.
REFUSE = 1008


def _header_token(websocket: WebSocket) -> str | None:
    scheme, _, value = websocket.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@router.websocket("/ws")
async def ws_query(websocket: WebSocket) -> None:
    token = websocket.query_params.get("token") or _header_token(websocket)
    await _serve(websocket, token)


@router.websocket("/ws/{token}")
async def ws_path(websocket: WebSocket, token: str) -> None:
    await _serve(websocket, token)


async def _serve(websocket: WebSocket, token: str | None) -> None:
    gw: Gateway = websocket.app.state.gateway
    if gw.hub.closing or not gw.origins.allows(websocket.headers.get("origin")):
        await websocket.close(REFUSE)
        return
    if token is not None:
        try:
            claims = await gw.verifier.verify(token)
        except InvalidToken:
            await websocket.close(REFUSE)
            return
        await websocket.accept()
    else:
        await websocket.accept()
        authenticated = await _first_frame_auth(gw, websocket)
        if authenticated is None:
            with contextlib.suppress(Exception):
                await websocket.close(fr.CLOSE_AUTH, "authentication required")
            return
        token, claims = authenticated
    await Session(gw, websocket, token, claims).run()


async def _first_frame_auth(gw: Gateway, websocket: WebSocket) -> tuple[str, AccessClaims] | None:
    try:
        message = await asyncio.wait_for(websocket.receive(), gw.settings.ws_auth_timeout)
        text = message.get("text") or (message.get("bytes") or b"").decode("utf-8", "replace")
        if len(text) > gw.settings.ws_max_frame_bytes:
            return None
        frame = fr.parse_client_frame(orjson.loads(text))
        if not isinstance(frame, fr.AuthFrame):
            return None
        return frame.token, await gw.verifier.verify(frame.token)
    except Exception:
        return None


class Session:
    """One accepted socket: setup, the receive loop, token expiry, teardown."""

    def __init__(self, gw: Gateway, websocket: WebSocket, token: str, claims: AccessClaims) -> None:
        self.gw = gw
        self.websocket = websocket
        self.conn = Connection(
            websocket,
            user_id=claims.user_id,
            username=claims.username,
            sid=claims.sid,
            token=token,
            expires_at=claims.exp,
            queue_size=gw.settings.ws_send_queue_size,
        )
        self.handler = FrameHandler(gw, on_token_replaced=self._restart_token_timer)
        self._token_timer: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        conn, gw = self.conn, self.gw
        first = not gw.hub.is_connected(conn.user_id)
        (friend_ids, presence_frames), conv_ids = await asyncio.gather(
            friend_states(gw.upstreams, conn.user_id, gw.hub.known_friends(conn.user_id)),
            conversation_ids(gw.upstreams, conn.user_id) if first else _none(),
        )
        for frame in presence_frames:
            conn.send(frame)
        first_here = await gw.hub.register(
            conn,
            conversation_ids=conv_ids or (),
            friend_ids=friend_ids or (),
            friends_known=friend_ids is not None,
        )
        if first_here and not first:
            # The user's other socket here closed while this one was being set up, taking the
            # user's conversation subscriptions with it: fetch them for this socket after all.
            conv_ids = await conversation_ids(gw.upstreams, conn.user_id)
            for cid in conv_ids or ():
                await gw.hub.add_member(conn.user_id, cid)
        if first_here and conv_ids is None:
            self._spawn(self._retry_conversations())
        conn.send(
            fr.ConnectedFrame(
                user_id=conn.user_id,
                session_id=conn.sid,
                heartbeat_interval=gw.settings.heartbeat_interval,
            )
        )
        conn.start()
        await gw.presence.connected(conn.id, conn.user_id)
        self._restart_token_timer(conn)
        log.info("ws.connected", user_id=conn.user_id, connection_id=conn.id)
        try:
            await self._receive_loop()
        finally:
            await self._teardown()

    async def _receive_loop(self) -> None:
        conn, limit = self.conn, self.gw.settings.ws_max_frame_bytes
        while not conn.closed:
            try:
                message = await self.websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                text = (message.get("bytes") or b"").decode("utf-8", "replace")
            conn.last_seen = time.monotonic()
            if len(text) > limit or (len(text) * 4 > limit and len(text.encode()) > limit):
                conn.close(fr.CLOSE_TOO_BIG, "frame too large")
                return
            try:
                await self.handler.handle(conn, text)
            except Exception:
                log.exception("ws.frame_failed", connection_id=conn.id)
                conn.send(fr.ErrorFrame(code="unavailable", detail="Internal error", retry_after=1))

    async def _teardown(self) -> None:
        conn = self.conn
        for task in [self._token_timer, *self._background]:
            if task is not None:
                task.cancel()
        await self.gw.hub.unregister(conn)
        if conn.close_code is not None:
            await conn.wait_closed()
        else:
            await conn.flush_and_stop()
        await self.gw.presence.disconnected(conn.id, conn.user_id)
        log.info(
            "ws.disconnected", user_id=conn.user_id, connection_id=conn.id, code=conn.close_code
        )

    def _spawn(self, coro: object) -> None:
        task = asyncio.create_task(coro)  # type: ignore[arg-type]
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _retry_conversations(self) -> None:
        delay = 1.0
        while not self.conn.closed:
            await asyncio.sleep(delay)
            ids = await conversation_ids(self.gw.upstreams, self.conn.user_id)
            if ids is not None:
                for cid in ids:
                    await self.gw.hub.add_member(self.conn.user_id, cid)
                self.conn.send(fr.ResumeRequiredFrame(reason="subscriptions_restored"))
                return
            delay = min(delay * 2, 30.0)

    def _restart_token_timer(self, conn: Connection) -> None:
        if self._token_timer is not None:
            self._token_timer.cancel()
        self._token_timer = asyncio.create_task(self._token_expiry(conn.expires_at))

    async def _token_expiry(self, expires_at: int) -> None:
        warn_at = expires_at - self.gw.settings.token_expiring_seconds
        await asyncio.sleep(max(0.0, warn_at - time.time()))
        self.conn.send(fr.TokenExpiringFrame(expires_at=datetime.fromtimestamp(expires_at, UTC)))
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        self.conn.close(fr.CLOSE_AUTH, "token expired")


async def _none() -> None:
    return None
