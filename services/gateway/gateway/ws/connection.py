"""One client socket: identity, joined conversations, and a bounded send queue drained by its
own writer task, so a slow reader never slows anyone else (full queue → close 4008)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import structlog
from starlette.websockets import WebSocket

from parley_common.frames import CLOSE_TOO_SLOW, Frame

from ..metrics import DELIVERY_LATENCY, SLOW_CONSUMER_CLOSES, WS_FRAMES_OUT
from .encoding import encode

log = structlog.get_logger(__name__)

# (frame type, serialized frame, event occurred_at as a timestamp or None)
Outgoing = tuple[str, str, float | None]
CLOSE_TIMEOUT = 5.0


class Connection:
    def __init__(
        self,
        websocket: WebSocket,
        *,
        user_id: int,
        username: str,
        sid: str,
        token: str,
        expires_at: int,
        queue_size: int,
    ) -> None:
        self.id = uuid.uuid4().hex
        self.websocket = websocket
        self.user_id = user_id
        self.username = username
        self.sid = sid
        self.token = token
        self.expires_at = expires_at
        self.joined: set[int] = set()
        self.last_seen = time.monotonic()
        self.closed = False
        self.close_code: int | None = None
        self._queue: asyncio.Queue[Outgoing] = asyncio.Queue(maxsize=queue_size)
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name=f"ws-writer:{self.id}")

    @property
    def auth_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def send(self, frame: Frame) -> bool:
        return self.send_text(frame.type, encode(frame))  # type: ignore[attr-defined]

    def send_text(self, frame_type: str, text: str, occurred_at: float | None = None) -> bool:
        """Queue a serialized frame without waiting; a full queue closes the socket (4008)."""
        if self.closed:
            return False
        try:
            self._queue.put_nowait((frame_type, text, occurred_at))
        except asyncio.QueueFull:
            SLOW_CONSUMER_CLOSES.inc()
            log.info("ws.slow_consumer", connection_id=self.id, user_id=self.user_id)
            self.close(CLOSE_TOO_SLOW, "send queue full")
            return False
        return True

    async def send_waiting(self, frame: Frame, timeout: float = 10.0) -> bool:
        """Queue a frame, waiting for room (replays); a reader stalled for `timeout` → 4008."""
        if self.closed:
            return False
        try:
            await asyncio.wait_for(
                self._queue.put((frame.type, encode(frame), None)),  # type: ignore[attr-defined]
                timeout,
            )
        except TimeoutError:
            SLOW_CONSUMER_CLOSES.inc()
            self.close(CLOSE_TOO_SLOW, "send queue full")
            return False
        return True

    def close(self, code: int, reason: str = "") -> None:
        """Stop writing and close with `code`; idempotent, never blocks the caller."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        self._closer = asyncio.create_task(self._close(code, reason), name=f"ws-close:{self.id}")

    async def wait_closed(self) -> None:
        if self._closer is not None:
            with contextlib.suppress(Exception):
                await self._closer

    async def flush_and_stop(self) -> None:
        """After the client went away: stop the writer."""
        self.closed = True
        await self._stop_writer()

    async def _close(self, code: int, reason: str) -> None:
        await self._stop_writer()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.websocket.close(code, reason), CLOSE_TIMEOUT)

    async def _stop_writer(self) -> None:
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            with contextlib.suppress(BaseException):
                await self._writer

    async def _write_loop(self) -> None:
        try:
            while True:
                frame_type, text, occurred_at = await self._queue.get()
                await self.websocket.send_text(text)
                WS_FRAMES_OUT.labels(frame_type).inc()
                if occurred_at is not None:
                    DELIVERY_LATENCY.observe(max(0.0, time.time() - occurred_at))
        except asyncio.CancelledError:
            raise
        except Exception:
            # The socket is gone; the receive loop notices and cleans up.
            self.closed = True
