"""uvicorn's WebSocket protocol, plus a synchronous write of a ready-made frame.

A message for a conversation goes to every connected member's socket. Through ASGI each of
those writes is a coroutine that builds the frame again, and a socket that cannot take more
would hold up the rest, so every socket needed a writer task of its own. Here the fan-out
serializes the frame once and writes the same bytes to every socket at once, and a socket
whose transport is full (uvicorn's `writable` is cleared) is seen before writing
(ws/connection.py queues for it instead).

uvicorn runs it with `--ws gateway.ws.protocol:ParleyWebSocketProtocol` (parley/stack.py,
parley/embedded.py, the Dockerfile). The protocol is handed to the app in the scope's
extensions; an app served by any other server falls back to ASGI sends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

#: Key of the scope's `extensions` under which the protocol hands itself to the app.
EXTENSION = "parley.direct_send"

#: How uvicorn serves the gateway's sockets (parley/stack.py passes them as flags, deploy/ too):
#: this protocol; no permessage-deflate (chat frames are small, and each compressing socket
#: would hold tens of KiB of zlib state and need its own copy of every frame); 64 KiB frames.
UVICORN_WS_OPTIONS = {
    "ws": "gateway.ws.protocol:ParleyWebSocketProtocol",
    "ws_per_message_deflate": False,
    "ws_max_size": 64 * 1024,
}


def text_frame(payload: bytes) -> bytes:
    """A server's (unmasked) text frame; the same bytes fit every socket without extensions."""
    return Frame(Opcode.TEXT, payload).serialize(mask=False)


class _Inbox:
    """What uvicorn asks of the socket's receive queue (put_nowait, get, empty) for its one
    reader, without asyncio.Queue's three deques (about 2 KiB a socket)."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


class _Writable:
    """asyncio.Event's set/clear/is_set/wait for uvicorn's `writable` flag, without its deque
    of waiters until someone waits (a socket's transport is rarely full)."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        if not self._set:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            await waiter
        return True


class ParleyWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Memory per socket matters (thousands per replica): lighter stand-ins for uvicorn's
        # receive queue and writable event, with the same behaviour for its one reader.
        self.queue = _Inbox()  # type: ignore[assignment]
        self.writable = _Writable()  # type: ignore[assignment]

    async def run_asgi(self) -> None:
        extensions: dict[str, Any] = self.scope.setdefault("extensions", {})
        extensions[EXTENSION] = self
        await super().run_asgi()

    def forget_handshake(self) -> None:
        """After the app has accepted: the handshake's request and response (and the scope's
        headers, read by then) are not needed again; a socket lives for hours. websockets' own
        parser keeps the request for as long as the socket lives (a local of its parse
        generator), so its headers are emptied in place: 9 of the 20 lists a socket held."""
        if self.request is not None:
            self.request.headers.clear()
        self.request = None  # type: ignore[assignment]
        self.response = None  # type: ignore[assignment]
        self.scope["headers"] = []

    @property
    def open(self) -> bool:
        return (
            self.handshake_complete
            and not self.close_sent
            and not self.disconnected
            and self.conn.state is State.OPEN
        )

    @property
    def writable_now(self) -> bool:
        """False while the transport's buffer is over its high-water mark."""
        return self.writable.is_set()

    async def wait_writable(self) -> None:
        await self.writable.wait()

    def write_text(self, payload: bytes, frame: bytes) -> bool:
        """Write one text message now: `frame` (from `text_frame(payload)`) as is, unless an
        extension was negotiated (then the frame is built for this socket). False when the
        socket is closing or gone."""
        if not self.open:
            return False
        if self.conn.extensions:
            self.conn.send_text(payload)
            frame = b"".join(self.conn.data_to_send())
        self.transport.write(frame)
        return True


def direct(scope: Mapping[str, Any]) -> ParleyWebSocketProtocol | None:
    """The protocol of a socket served by ParleyWebSocketProtocol, else None."""
    found = scope.get("extensions", {}).get(EXTENSION)
    return found if isinstance(found, ParleyWebSocketProtocol) else None
