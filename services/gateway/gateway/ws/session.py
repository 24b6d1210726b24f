"""One accepted socket: setup, the receive loop, teardown.

Setup (PROTOCOL.md: the friends' presence, then `connected`; ARCHITECTURE.md: `connected` only
when the socket's bindings are in place):

1. the socket is registered and holds its frames back;
2. its user's friends and conversations are looked up (unless this replica knows them: the
   user has another socket here), with every other socket that opens meanwhile;
3. the friends' presence is looked up while the broker applies the bindings (the user's own
   binding is requested at step 2, beside the lookup);
4. presence frames, `connected`, then whatever arrived during setup.

Events published after `connected` reach the socket. When chat cannot tell the user's
conversations (chat down during a failover), the socket gets an `error` frame with
`retry_after` before `connected`, setup is retried at most 5 s apart, and `resume_required`
follows once the conversations are bound.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import structlog
from starlette.types import Receive

from parley_common import frames as fr

if TYPE_CHECKING:
    from ..runtime import Gateway
    from .connection import Connection

log = structlog.get_logger(__name__)

SETUP_RETRY_MAX = 5.0


class Session:
    __slots__ = ("conn", "gw")

    def __init__(self, gw: Gateway, conn: Connection) -> None:
        self.gw = gw
        self.conn = conn

    async def run(self, receive: Receive) -> None:
        gw, conn = self.gw, self.conn
        conn.hold()
        registry = gw.registry
        binds = registry.add(conn)
        own_binding: asyncio.Future[None] | None = None
        try:
            friend_ids = registry.friends_known(conn.user_id)
            ready = True
            if friend_ids is None:
                # The user's own binding goes to the broker while chat is asked for the rest:
                # one round trip less before `connected`.
                own_binding = asyncio.ensure_future(registry.bind(binds))
                binds = []
                setup = await gw.setup.user(conn.user_id)
                ready = setup is not None
                friend_ids = setup.friend_ids if setup is not None else []
                if setup is not None:
                    binds = registry.learn(
                        conn.user_id,
                        friend_ids=setup.friend_ids,
                        conversation_ids=setup.conversation_ids,
                    )
            presence, _ = await asyncio.gather(
                gw.setup.presence_frames(friend_ids), registry.bind(binds)
            )
            if own_binding is not None:
                await own_binding
            first: list[fr.Frame] = list(presence)
            if not ready:
                first.append(
                    fr.ErrorFrame(
                        code="unavailable",
                        detail="Conversations are temporarily unavailable; "
                        "resume_required follows when they are back",
                        retry_after=1.0,
                    )
                )
            first.append(
                fr.ConnectedFrame(
                    user_id=conn.user_id,
                    session_id=conn.sid,
                    heartbeat_interval=gw.settings.heartbeat_interval,
                )
            )
            conn.release(first)
            retry = None if ready else asyncio.create_task(self._retry_setup(), name="ws-setup")
            await gw.presence.connected(conn.id, conn.user_id)
            conn.arm_expiry(gw.settings.token_expiring_seconds)
            log.debug("ws.connected", user_id=conn.user_id, connection_id=conn.id)
            try:
                await self._receive_loop(receive)
            finally:
                if retry is not None:
                    retry.cancel()
        finally:
            if own_binding is not None:
                if not own_binding.done():
                    own_binding.cancel()
                elif not own_binding.cancelled():
                    own_binding.exception()  # retrieved: a setup that failed already says why
            await self._teardown()

    async def _receive_loop(self, receive: Receive) -> None:
        conn, gw = self.conn, self.gw
        limit = gw.settings.ws_max_frame_bytes
        while not conn.closed:
            message = await receive()
            if message["type"] != "websocket.receive":
                return
            text = message.get("text")
            if text is None:
                text = (message.get("bytes") or b"").decode("utf-8", "replace")
            conn.last_seen = time.monotonic()
            if len(text) > limit or (len(text) * 4 > limit and len(text.encode()) > limit):
                conn.close(fr.CLOSE_TOO_BIG, "frame too large")
                return
            try:
                await gw.handler.handle(conn, text)
            except Exception:
                log.exception("ws.frame_failed", connection_id=conn.id)
                conn.send(fr.ErrorFrame(code="unavailable", detail="Internal error", retry_after=1))

    async def _retry_setup(self) -> None:
        """Chat could not tell the conversations at connect: ask again, at most 5 s apart."""
        gw, conn = self.gw, self.conn
        delay = 1.0
        while not conn.closed:
            await asyncio.sleep(delay)
            setup = await gw.setup.user(conn.user_id)
            if setup is not None:
                await gw.registry.bind(
                    gw.registry.learn(
                        conn.user_id,
                        friend_ids=setup.friend_ids,
                        conversation_ids=setup.conversation_ids,
                    )
                )
                conn.send(fr.ResumeRequiredFrame(reason="subscriptions_restored"))
                return
            delay = min(delay * 2, SETUP_RETRY_MAX)

    async def _teardown(self) -> None:
        gw, conn = self.gw, self.conn
        gw.viewers.leave_all(conn)
        gw.registry.remove(conn)
        if conn.close_code is not None:
            await conn.wait_closed()
        else:
            await conn.stop()
        await gw.presence.disconnected(conn.id, conn.user_id)
        log.debug("ws.disconnected", user_id=conn.user_id, connection_id=conn.id)
