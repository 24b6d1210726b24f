"""One client socket: identity, joined conversations, and the way frames reach it.

A frame is written at once when the socket can take it (uvicorn's transport below its
high-water mark, ws/protocol.py). Otherwise it waits in the socket's own bounded backlog,
drained by a writer task that exists only while there is a backlog; a backlog over
`queue_size` frames closes the socket with 4008, so a slow reader never slows anyone else.
While the socket is being set up (before `connected`) frames are held back the same way and
written right after `connected`.

Served by another ASGI server (tests), the same backlog is drained through ASGI sends.
Memory matters here (one object per socket, thousands per replica): `__slots__`, no task or
timer task while idle, no per-socket copies of shared data.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime

import structlog
from starlette.types import Send

from parley_common.frames import CLOSE_AUTH, CLOSE_TOO_SLOW, Frame, TokenExpiringFrame

from ..metrics import SLOW_CONSUMER_CLOSES, WS_FRAMES_OUT
from .encoding import encode_bytes
from .protocol import ParleyWebSocketProtocol, text_frame

log = structlog.get_logger(__name__)

CLOSE_TIMEOUT = 5.0

# (payload, ready-made frame or None)
Pending = tuple[bytes, bytes | None]


class Connection:
    __slots__ = (
        "_backlog",
        "_closer",
        "_direct",
        "_holding",
        "_send",
        "_writer",
        "close_code",
        "closed",
        "expires_at",
        "id",
        "joined",
        "last_seen",
        "queue_size",
        "sid",
        "timer",
        "token",
        "user_id",
        "username",
    )

    def __init__(
        self,
        send: Send,
        direct: ParleyWebSocketProtocol | None,
        *,
        user_id: int,
        username: str,
        sid: str,
        token: str,
        expires_at: int,
        queue_size: int,
    ) -> None:
        self.id = uuid.uuid4().hex
        self._send = send
        self._direct = direct
        self.user_id = user_id
        self.username = username
        self.sid = sid
        self.token = token
        self.expires_at = expires_at
        self.queue_size = queue_size
        self.joined: set[int] | None = None  # conversations this socket views (lazily made)
        self.last_seen = time.monotonic()
        self.closed = False
        self.close_code: int | None = None
        #: The token-expiry timer (a loop handle, not a task).
        self.timer: asyncio.TimerHandle | None = None
        self._holding = False
        self._backlog: deque[Pending] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None

    @property
    def auth_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    # --- writing ----------------------------------------------------------------------------

    def send(self, frame: Frame) -> bool:
        WS_FRAMES_OUT.labels(frame.type).inc()
        return self.write(encode_bytes(frame), None)

    def write(self, payload: bytes, frame: bytes | None) -> bool:
        """Queue or write one text message (`frame`: `text_frame(payload)`, when the caller
        built it once for many sockets). False when the socket is closed or just closed."""
        if self.closed:
            return False
        backlog = self._backlog
        if backlog is None:
            direct = self._direct
            if direct is not None and not self._holding and direct.writable_now:
                if direct.write_text(payload, frame or text_frame(payload)):
                    return True
                self.closed = True  # gone; the receive loop notices and cleans up
                return False
            backlog = self._backlog = deque()
        backlog.append((payload, frame))
        if len(backlog) > self.queue_size:
            SLOW_CONSUMER_CLOSES.inc()
            log.info("ws.slow_consumer", connection_id=self.id, user_id=self.user_id)
            self.close(CLOSE_TOO_SLOW, "send queue full")
            return False
        if not self._holding and self._writer is None:
            self._writer = asyncio.create_task(self._drain(), name="ws-writer")
        return True

    def hold(self) -> None:
        """Keep frames back (the socket is being set up)."""
        self._holding = True

    def release(self, first: Iterable[Frame] = ()) -> None:
        """Write `first` (the setup's own frames, `connected` last), then what was held back."""
        held, self._backlog = self._backlog, None
        self._holding = False
        for frame in first:
            self.send(frame)
        for payload, ready in held or ():
            self.write(payload, ready)

    @property
    def backlog(self) -> int:
        """Frames waiting for the socket."""
        return len(self._backlog) if self._backlog is not None else 0

    async def wait_writable(self, timeout: float) -> bool:
        """Wait until the backlog is written (a replay paces itself on a slow reader)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self._backlog and not self.closed:
                    writer = self._writer
                    if writer is None:
                        return False
                    await asyncio.shield(writer)
        return not self.closed and not self._backlog

    async def _drain(self) -> None:
        try:
            direct = self._direct
            while self._backlog and not self.closed:
                payload, ready = self._backlog.popleft()
                if direct is not None:
                    if not direct.writable_now:
                        await direct.wait_writable()
                    if not direct.write_text(payload, ready or text_frame(payload)):
                        self.closed = True
                        return
                else:
                    await self._send({"type": "websocket.send", "text": payload.decode()})
            self._backlog = None
        except asyncio.CancelledError:
            raise
        except Exception:
            self.closed = True  # the socket is gone; the receive loop notices and cleans up
        finally:
            self._writer = None

    # --- token expiry -----------------------------------------------------------------------

    def arm_expiry(self, warn_before: float) -> None:
        """`token_expiring` `warn_before` seconds before the token expires, then close 4001
        (a new `auth` frame arms it again)."""
        self._cancel_timer()
        loop = asyncio.get_running_loop()
        delay = max(0.0, self.expires_at - warn_before - time.time())
        self.timer = loop.call_at(loop.time() + delay, self._token_expiring)

    def _token_expiring(self) -> None:
        self.send(TokenExpiringFrame(expires_at=datetime.fromtimestamp(self.expires_at, UTC)))
        loop = asyncio.get_running_loop()
        delay = max(0.0, self.expires_at - time.time())
        self.timer = loop.call_at(loop.time() + delay, self.close, CLOSE_AUTH, "token expired")

    # --- closing ----------------------------------------------------------------------------

    def close(self, code: int, reason: str = "") -> None:
        """Stop writing and close with `code`; idempotent, never blocks the caller."""
        if self.closed and self._closer is not None:
            return
        self.closed = True
        self.close_code = code
        self._cancel_timer()
        self._closer = asyncio.create_task(self._close(code, reason), name="ws-close")

    async def wait_closed(self) -> None:
        if self._closer is not None:
            with contextlib.suppress(Exception):
                await self._closer

    async def stop(self) -> None:
        """After the client went away: stop writing."""
        self.closed = True
        self._cancel_timer()
        await self._stop_writer()

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    async def _close(self, code: int, reason: str) -> None:
        await self._stop_writer()
        try:
            await asyncio.wait_for(
                self._send({"type": "websocket.close", "code": code, "reason": reason}),
                CLOSE_TIMEOUT,
            )
        except Exception:
            if self._direct is not None:  # a reader that takes nothing: drop the connection
                self._direct.transport.close()

    async def _stop_writer(self) -> None:
        writer = self._writer
        if writer is not None and not writer.done():
            writer.cancel()
            with contextlib.suppress(BaseException):
                await writer
        self._backlog = None
