"""`Socket`: the WebSocket side of PROTOCOL.md section 2, with reconnect, resume and dedupe.

What the application sees:

- every server frame once, in arrival order, through `async for frame in socket`, or
  selectively with `await socket.next_frame("ack")` / `await socket.wait_for_frame(pred)`
  (Erlang-style selective receive: frames that do not match stay queued for later);
- each message exactly once: `new_message` frames are deduplicated by
  (conversation_id, seq), whether they come live, from a `resume` replay or from a REST
  refetch after `resync_required`; `socket.messages(conversation_id)` is the ordered list.

What the socket does on its own: pings at the server's heartbeat interval; on a lost
connection it reconnects with exponential backoff and jitter, rotating through the gateway
URLs it was given, then sends `resume` with the last contiguous seq it saw per conversation
and resends every `send_message` not acked yet (same client_msg_id, so never a duplicate);
it also resumes on a seq gap that does not fill by itself, and on `resume_required`.
Close codes: 4001 → refresh the token (when a refresh token is known) and reconnect, else
stop; 1012 and 4008 and anything else → reconnect and resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from .connection import AUTH_MODES, Connection, SocketOwner
from .errors import ParleyError, SocketClosed
from .inbox import DEFAULT as _DEFAULT
from .inbox import FrameInbox
from .ledger import MessageLedger
from .outgoing import FrameSender, Pending
from .wire import frames, schemas

AckFrame = frames.AckFrame
ConnectedFrame = frames.ConnectedFrame
ErrorFrame = frames.ErrorFrame
MessageDeletedFrame = frames.MessageDeletedFrame
MessageEditedFrame = frames.MessageEditedFrame
NewMessageFrame = frames.NewMessageFrame
ReactionUpdatedFrame = frames.ReactionUpdatedFrame
ResumeRequiredFrame = frames.ResumeRequiredFrame
ResyncRequiredFrame = frames.ResyncRequiredFrame
TokenExpiringFrame = frames.TokenExpiringFrame
parse_server_frame = frames.parse_server_frame
MessageRead = schemas.MessageRead

__all__ = ["AUTH_MODES", "Socket", "UnknownFrame"]

log = logging.getLogger("parley_client.socket")


@dataclass
class UnknownFrame:
    """A server frame that no model of parley_common.frames accepts (kept, not dropped)."""

    type: str
    data: dict[str, Any]
    error: str = ""


class Socket(Connection, FrameInbox, FrameSender):
    def __init__(
        self,
        client: SocketOwner,
        *,
        urls: Sequence[str] | None = None,
        auth_mode: str = "path",
        origin: str | None = None,
        reconnect: bool = True,
        base_backoff: float = 0.2,
        max_backoff: float = 10.0,
        open_timeout: float = 10.0,
        gap_grace: float = 0.5,
        auto_delivered: bool = False,
        wait_connected: bool = True,
        token: str | None = None,
        default_timeout: float = 10.0,
    ) -> None:
        Connection.__init__(
            self,
            client,
            urls=urls,
            auth_mode=auth_mode,
            origin=origin,
            reconnect=reconnect,
            base_backoff=base_backoff,
            max_backoff=max_backoff,
            open_timeout=open_timeout,
            token=token,
        )
        FrameInbox.__init__(self)
        self.gap_grace = gap_grace
        self.auto_delivered = auto_delivered
        self._wait_connected = wait_connected
        #: the deadline of next_frame / wait_for_frame / wait_until / wait_for_seq / ack
        #: when the caller gives none (raise it on loaded CI machines)
        self.default_timeout = default_timeout
        self.user_id: int | None = None
        self.session_id: str | None = None
        self.heartbeat_interval: float = 30.0
        #: `connected` frames seen
        self.connected_count = 0
        self.received: Counter[str] = Counter()
        self.invalid_frames: list[UnknownFrame] = []
        self.resumes_sent = 0
        self.ledger = MessageLedger()
        self._pending: dict[str, Pending] = {}
        self._explicit_pings = 0
        self._gap_tasks: dict[int, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: asyncio.Task[None] | None = None
        self.fatal: Exception | None = None

    @property
    def cursors(self) -> dict[int, int]:
        """Per conversation: the highest seq up to which every message was seen."""
        return self.ledger.cursors

    @property
    def duplicates_dropped(self) -> int:
        return self.ledger.duplicates_dropped

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> Socket:
        """Opens the first connection (a refused handshake raises `ParleyError(status)`), then
        runs the reader/reconnect loop in the background; waits for `connected` by default."""
        ws = await self._connect(self.urls[self.url_index])
        self.client.sockets.append(self)
        self._attach(ws)
        self._runner = asyncio.create_task(self._run(ws), name="parley-socket")
        if self._wait_connected:
            await self.wait_until(lambda: self.connected_count >= 1, timeout=self.open_timeout)
        return self

    async def close(self) -> None:
        """Closes for good (code 1000); pending acks fail with `SocketClosed`."""
        self._closing = True
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close(1000)
        for task in [self._runner, self._heartbeat, *self._gap_tasks.values(), *self._tasks]:
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        for task in [self._runner, self._heartbeat]:
            if task is not None and task is not asyncio.current_task():
                with contextlib.suppress(BaseException):
                    await task
        self._fail_pending(SocketClosed(1000, "closed by the client"))
        if self in self.client.sockets:
            self.client.sockets.remove(self)
        self._notify()

    async def __aenter__(self) -> Socket:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _give_up(self, exc: Exception) -> None:
        self.fatal = exc
        self._fail_pending(exc)
        self._notify()

    def _fail_pending(self, exc: Exception) -> None:
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(exc)
                pending.future.exception()  # mark retrieved: nobody may be awaiting it
        self._pending.clear()

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                try:
                    data = json.loads(raw)
                except ValueError:
                    self._deliver(UnknownFrame("?", {"raw": str(raw)[:200]}, "not JSON"))
                    continue
                self._handle(ws, data)
        except ConnectionClosed:
            pass

    # --- incoming frames ------------------------------------------------------------------------

    def _handle(self, ws: ClientConnection, data: Any) -> None:
        kind = data.get("type", "?") if isinstance(data, dict) else "?"
        self.received[kind] += 1
        try:
            frame: Any = parse_server_frame(data)
        except ValidationError as exc:
            frame = UnknownFrame(kind, data if isinstance(data, dict) else {"raw": data}, str(exc))
            self.invalid_frames.append(frame)
            log.warning("server frame does not match the protocol: %s", frame)
            self._deliver(frame)
            return
        if isinstance(frame, NewMessageFrame):
            if self._accept(frame.message):
                self._deliver(frame)
                if self.auto_delivered:
                    self._send_soon(
                        {
                            "type": "mark_delivered",
                            "conversation_id": frame.message.conversation_id,
                            "seq": frame.message.seq,
                        }
                    )
            return
        if isinstance(frame, ConnectedFrame):
            self.user_id = frame.user_id
            self.session_id = frame.session_id
            self.heartbeat_interval = frame.heartbeat_interval
            self.connected_count += 1
            self._on_connected(ws)
        elif frame.type == "pong":
            if self._explicit_pings <= 0:
                return  # the answer to our own heartbeat
            self._explicit_pings -= 1
        elif isinstance(frame, AckFrame):
            pending = self._pending.pop(frame.client_msg_id or "", None)
            if pending is not None and not pending.future.done():
                pending.future.set_result(frame)
        elif isinstance(frame, ErrorFrame) and frame.client_msg_id:
            pending = self._pending.pop(frame.client_msg_id, None)
            if pending is not None and not pending.future.done():
                pending.future.set_exception(ParleyError(0, frame.detail, frame.code))
                pending.future.exception()
        elif isinstance(frame, MessageEditedFrame | ReactionUpdatedFrame):
            self.ledger.replace(frame.message)
        elif isinstance(frame, MessageDeletedFrame):
            self.ledger.mark_deleted(frame.conversation_id, frame.message_id)
        elif isinstance(frame, ResumeRequiredFrame):
            self._send_soon(self._resume_frame())
        elif isinstance(frame, ResyncRequiredFrame):
            self._spawn(self._resync(frame.conversation_id))
        elif isinstance(frame, TokenExpiringFrame) and self._token is None:
            self._spawn(self._reauth())
        self._deliver(frame)

    def _on_connected(self, ws: ClientConnection) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        self._heartbeat = asyncio.create_task(self._ping_loop(ws))
        if self.opens > 1 and self.cursors:
            self._send_soon(self._resume_frame())
        for pending in self._pending.values():
            self._send_soon(pending.frame)

    async def _ping_loop(self, ws: ClientConnection) -> None:
        every = max(1.0, min(self.heartbeat_interval * 0.5, 25.0))
        with contextlib.suppress(ConnectionClosed, asyncio.CancelledError):
            while True:
                await asyncio.sleep(every)
                await ws.send('{"type":"ping"}')

    def _accept(self, message: MessageRead) -> bool:
        """Stores a message in the ledger; False when it was seen. A gap behind it is given a
        moment to fill (broker reordering) before a replay is asked for."""
        if not self.ledger.accept(message):
            return False
        cid = message.conversation_id
        if self.ledger.has_gap(cid) and cid not in self._gap_tasks:
            self._gap_tasks[cid] = asyncio.create_task(self._fill_gap(cid))
        return True

    async def _fill_gap(self, cid: int) -> None:
        """A seq gap may just be broker reordering: give it a moment, then ask for a replay."""
        try:
            await asyncio.sleep(self.gap_grace)
            if self.ledger.has_gap(cid) and self.is_open:
                await self.send({"type": "resume", "cursors": {str(cid): self.cursors[cid]}})
                self.resumes_sent += 1
        finally:
            self._gap_tasks.pop(cid, None)

    async def _resync(self, cid: int) -> None:
        """`resync_required`: the gap is too large to replay; page it in over REST."""
        after = self.ledger.resume_after(cid)
        for message in await self.client.messages_after(cid, after):
            if self._accept(message):
                self._deliver(NewMessageFrame(message=message))

    async def _reauth(self) -> None:
        """`token_expiring`: refresh (once per client) and hand the new token to the server."""
        if await self._refresh_token():
            self._used_token = self._token_now()
            await self.send({"type": "auth", "token": self._used_token})

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _send_soon(self, frame: dict[str, Any]) -> None:
        ws = self.ws
        if ws is None:
            return

        async def go() -> None:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(json.dumps(frame))

        self._spawn(go())

    # --- the application's view ----------------------------------------------------------------

    def track(self, conversation_id: int, last_seq: int) -> None:
        """Declares that the application has every message of the conversation up to
        `last_seq` (e.g. from REST): later replays start after it, older ones are dropped."""
        self.ledger.track(conversation_id, last_seq)

    def messages(self, conversation_id: int) -> list[MessageRead]:
        """Every message seen in the conversation, once each, in seq order."""
        return self.ledger.messages(conversation_id)

    async def wait_for_seq(self, conversation_id: int, seq: int, timeout: float = _DEFAULT) -> None:
        """Waits until every message of the conversation up to `seq` was seen."""
        if timeout == _DEFAULT:
            timeout = self.default_timeout
        try:
            await self.wait_until(lambda: self.cursors.get(conversation_id, 0) >= seq, timeout)
        except TimeoutError:
            have = self.ledger.seqs(conversation_id)
            raise TimeoutError(
                f"conversation {conversation_id}: cursor {self.cursors.get(conversation_id)} "
                f"< {seq} after {timeout}s; have {len(have)} seqs {have[:5]}…{have[-5:]}"
            ) from None
