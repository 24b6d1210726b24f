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
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from .errors import ParleyError, SocketClosed
from .wire import frames, schemas

CLOSE_AUTH = frames.CLOSE_AUTH
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
MessageRead = schemas.MessageRead
# A module attribute, looked up at each frame: tests wrap it (tests/e2e/conftest.py).
parse_server_frame = frames.parse_server_frame

if TYPE_CHECKING:
    from .rest import ParleyClient

log = logging.getLogger("parley_client.socket")

AUTH_MODES = ("path", "query", "header", "frame")
#: "use the socket's `default_timeout`" (a float so that signatures stay simple)
_DEFAULT = -1.0


@dataclass
class UnknownFrame:
    """A server frame that no model of parley_common.frames accepts (kept, not dropped)."""

    type: str
    data: dict[str, Any]
    error: str = ""


@dataclass
class _Pending:
    frame: dict[str, Any]
    future: asyncio.Future[AckFrame] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Socket:
    def __init__(
        self,
        client: ParleyClient,
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
        if auth_mode not in AUTH_MODES:
            raise ValueError(f"auth_mode must be one of {AUTH_MODES}")
        self.client = client
        self.urls = [u.rstrip("/") for u in (urls or client.ws_urls())]
        self.auth_mode = auth_mode
        self.origin = origin
        self.reconnect = reconnect
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.open_timeout = open_timeout
        self.gap_grace = gap_grace
        self.auto_delivered = auto_delivered
        self._wait_connected = wait_connected
        self._token = token
        #: the deadline of next_frame / wait_for_frame / wait_until / wait_for_seq / ack
        #: when the caller gives none (raise it on loaded CI machines)
        self.default_timeout = default_timeout
        self._used_token: str | None = None

        self.url_index = 0
        self.ws: ClientConnection | None = None
        self.user_id: int | None = None
        self.session_id: str | None = None
        self.heartbeat_interval: float = 30.0
        #: successful opens (1 after start, +1 per reconnect); `connected` frames seen
        self.opens = 0
        self.connected_count = 0
        self.close_codes: list[int | None] = []
        self.received: Counter[str] = Counter()
        self.invalid_frames: list[UnknownFrame] = []
        self.duplicates_dropped = 0
        self.resumes_sent = 0
        #: per conversation: the highest seq up to which every message was seen
        self.cursors: dict[int, int] = {}
        self._floor: dict[int, int] = {}
        self._messages: dict[int, dict[int, MessageRead]] = {}
        self._inbox: list[Any] = []
        self._tick = asyncio.Event()
        self._pending: dict[str, _Pending] = {}
        self._explicit_pings = 0
        self._gap_tasks: dict[int, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._open = asyncio.Event()
        self._closing = False
        self.fatal: Exception | None = None

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

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    @property
    def url(self) -> str:
        return self.urls[self.url_index]

    def drop(self) -> None:
        """Aborts the TCP connection without a close handshake, as a lost network would; the
        socket then reconnects and resumes like after any other loss."""
        if self.ws is not None:
            self.ws.transport.abort()

    def _token_now(self) -> str:
        token = self._token or self.client.access_token
        if not token:
            raise ValueError("log in first: no access token")
        return token

    async def _connect(self, base: str) -> ClientConnection:
        token = self._used_token = self._token_now()
        headers: dict[str, str] = {}
        if self.auth_mode == "path":
            uri = f"{base}/ws/{token}"
        elif self.auth_mode == "query":
            uri = f"{base}/ws?token={token}"
        else:
            uri = f"{base}/ws"
            if self.auth_mode == "header":
                headers["Authorization"] = f"Bearer {token}"
        try:
            ws = await connect(
                uri,
                origin=self.origin,  # type: ignore[arg-type]
                additional_headers=headers,
                proxy=None,
                open_timeout=self.open_timeout,
                max_size=16 * 1024 * 1024,
                max_queue=None,
                close_timeout=2,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise ParleyError(status, exc.response.body.decode(errors="replace") or str(exc), None)
        if self.auth_mode == "frame":
            await ws.send(json.dumps({"type": "auth", "token": token}))
        return ws

    def _attach(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.opens += 1
        self._open.set()

    async def _run(self, ws: ClientConnection) -> None:
        failures = 0
        while True:
            await self._read(ws)
            self._open.clear()
            if self._heartbeat is not None:
                self._heartbeat.cancel()
            code = ws.close_code if ws.close_code is not None else 1006
            self.close_codes.append(code)
            if self._closing:
                return
            if not self.reconnect:
                return self._give_up(SocketClosed(code, ws.close_reason or ""))
            if code == CLOSE_AUTH and not await self._refresh_token():
                return self._give_up(SocketClosed(code, ws.close_reason or "token refused"))
            # Reconnect: same URL first, the next replica after each failed attempt.
            refreshed = code == CLOSE_AUTH
            while True:
                if failures:
                    delay = min(self.max_backoff, self.base_backoff * 2 ** (failures - 1))
                    await asyncio.sleep(random.uniform(delay / 2, delay))
                try:
                    ws = await self._connect(self.url)
                except ParleyError as exc:
                    failures += 1
                    if exc.status in (401, 403):
                        # The token may have expired or been revoked while we were away.
                        if refreshed or not await self._refresh_token():
                            return self._give_up(SocketClosed(exc.status, str(exc.detail)))
                        refreshed = True
                        continue
                    self.url_index = (self.url_index + 1) % len(self.urls)
                    continue
                except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as exc:
                    log.debug("reconnect to %s failed: %r", self.url, exc)
                    failures += 1
                    self.url_index = (self.url_index + 1) % len(self.urls)
                    continue
                if self._closing:
                    with contextlib.suppress(Exception):
                        await ws.close(1000)
                    return
                failures = 0
                self._attach(ws)
                break

    async def _refresh_token(self) -> bool:
        if self._token is not None or not self.client.refresh_token:
            return False
        try:
            await self.client.refresh_if_stale(self._used_token)
        except Exception as exc:
            log.debug("refresh failed: %r", exc)
            return False
        return True

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
            self._replace(frame.message)
        elif isinstance(frame, MessageDeletedFrame):
            for msg in self._messages.get(frame.conversation_id, {}).values():
                if msg.id == frame.message_id:
                    msg.deleted = True
                    msg.content = ""
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

    def _deliver(self, frame: Any) -> None:
        self._inbox.append(frame)
        self._notify()

    def _notify(self) -> None:
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    def _accept(self, message: MessageRead) -> bool:
        """Stores a message; False when (conversation_id, seq) was seen (or is below the floor)."""
        cid, seq = message.conversation_id, message.seq
        known = self._messages.setdefault(cid, {})
        if seq in known or seq <= self._floor.get(cid, 0):
            self.duplicates_dropped += 1
            return False
        known[seq] = message
        cursor = self.cursors.get(cid)
        if cursor is None:
            # First message of a conversation we were not told about (`track`): what came
            # before it is history the application fetches over REST if it wants it.
            cursor = seq - 1
        while cursor + 1 in known:
            cursor += 1
        self.cursors[cid] = cursor
        if max(known) > cursor and cid not in self._gap_tasks:
            self._gap_tasks[cid] = asyncio.create_task(self._fill_gap(cid))
        return True

    def _replace(self, message: MessageRead) -> None:
        known = self._messages.get(message.conversation_id)
        if known is not None and message.seq in known:
            known[message.seq] = message

    async def _fill_gap(self, cid: int) -> None:
        """A seq gap may just be broker reordering: give it a moment, then ask for a replay."""
        try:
            await asyncio.sleep(self.gap_grace)
            known = self._messages.get(cid, {})
            if known and max(known) > self.cursors.get(cid, 0) and self.is_open:
                await self.send({"type": "resume", "cursors": {str(cid): self.cursors[cid]}})
                self.resumes_sent += 1
        finally:
            self._gap_tasks.pop(cid, None)

    async def _resync(self, cid: int) -> None:
        """`resync_required`: the gap is too large to replay; page it in over REST."""
        after = self.cursors.get(cid, self._floor.get(cid, 0))
        for message in await self.client.messages_after(cid, after):
            if self._accept(message):
                self._deliver(NewMessageFrame(message=message))

    async def _reauth(self) -> None:
        """`token_expiring`: refresh (once per client) and hand the new token to the server."""
        if await self._refresh_token():
            self._used_token = self._token_now()
            await self.send({"type": "auth", "token": self._used_token})

    def _resume_frame(self) -> dict[str, Any]:
        self.resumes_sent += 1
        return {"type": "resume", "cursors": {str(c): s for c, s in self.cursors.items()}}

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
        self._floor[conversation_id] = last_seq
        known = self._messages.setdefault(conversation_id, {})
        cursor = max(self.cursors.get(conversation_id, 0), last_seq)
        while cursor + 1 in known:
            cursor += 1
        self.cursors[conversation_id] = cursor

    def messages(self, conversation_id: int) -> list[MessageRead]:
        """Every message seen in the conversation, once each, in seq order."""
        known = self._messages.get(conversation_id, {})
        return [known[s] for s in sorted(known)]

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while True:
            try:
                yield await self.wait_for_frame(lambda _: True, timeout=None)
            except SocketClosed:
                return

    async def next_frame(
        self,
        type: str | None = None,
        *,
        timeout: float | None = _DEFAULT,
        where: Callable[[Any], bool] | None = None,
    ) -> Any:
        """The oldest queued frame of that `type` (any type when None) matching `where`."""
        return await self.wait_for_frame(
            lambda f: (type is None or f.type == type) and (where is None or where(f)),
            timeout=timeout,
            what=type or "any frame",
        )

    async def wait_for_frame(
        self, predicate: Callable[[Any], bool], timeout: float | None = _DEFAULT, *, what: str = ""
    ) -> Any:
        """Removes and returns the oldest queued frame matching `predicate`, waiting for one
        until `timeout`; raises TimeoutError (listing what is queued) or SocketClosed."""
        if timeout == _DEFAULT:
            timeout = self.default_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            tick = self._tick
            for i, frame in enumerate(self._inbox):
                if predicate(frame):
                    del self._inbox[i]
                    return frame
            if self.fatal is not None:
                raise self.fatal
            if self._closing:
                raise SocketClosed(1000, "closed by the client")
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                queued = Counter(f.type for f in self._inbox)
                raise TimeoutError(
                    f"no {what or 'matching frame'} within {timeout}s; queued: {dict(queued)}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tick.wait(), remaining)

    async def wait_until(self, condition: Callable[[], bool], timeout: float = _DEFAULT) -> None:
        """Waits until `condition()` holds (checked whenever a frame arrives)."""
        if timeout == _DEFAULT:
            timeout = self.default_timeout
        deadline = time.monotonic() + timeout
        while not condition():
            if self.fatal is not None:
                raise self.fatal
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            tick = self._tick
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tick.wait(), min(remaining, 0.5))

    async def wait_for_seq(self, conversation_id: int, seq: int, timeout: float = _DEFAULT) -> None:
        """Waits until every message of the conversation up to `seq` was seen."""
        if timeout == _DEFAULT:
            timeout = self.default_timeout
        try:
            await self.wait_until(lambda: self.cursors.get(conversation_id, 0) >= seq, timeout)
        except TimeoutError:
            have = sorted(self._messages.get(conversation_id, {}))
            raise TimeoutError(
                f"conversation {conversation_id}: cursor {self.cursors.get(conversation_id)} "
                f"< {seq} after {timeout}s; have {len(have)} seqs {have[:5]}…{have[-5:]}"
            ) from None

    def drain(self) -> list[Any]:
        """Removes and returns every queued frame."""
        frames, self._inbox = self._inbox, []
        return frames

    # --- outgoing frames -----------------------------------------------------------------------

    async def send(self, frame: dict[str, Any], *, timeout: float = _DEFAULT) -> None:
        """Sends one frame, waiting (until `timeout`) for a connection when reconnecting."""
        if timeout == _DEFAULT:
            timeout = self.default_timeout
        if self.fatal is not None:
            raise self.fatal
        if not self._open.is_set():
            await asyncio.wait_for(self._open.wait(), timeout)
        assert self.ws is not None
        await self.ws.send(json.dumps(frame))

    async def send_message(
        self,
        conversation_id: int,
        content: str,
        *,
        client_msg_id: str | None = None,
        reply_to: int | None = None,
    ) -> str:
        """Sends a message; returns its client_msg_id (await `ack(client_msg_id)` for the
        stored message). Until acked it is resent after every reconnect."""
        client_msg_id = client_msg_id or uuid.uuid4().hex
        frame: dict[str, Any] = {
            "type": "send_message",
            "conversation_id": conversation_id,
            "content": content,
            "client_msg_id": client_msg_id,
        }
        if reply_to is not None:
            frame["reply_to"] = reply_to
        if self.fatal is not None:
            raise self.fatal
        self._pending[client_msg_id] = _Pending(frame)
        if self._open.is_set() and self.ws is not None:
            # When the connection is down, `_on_connected` sends it after the reconnect.
            with contextlib.suppress(ConnectionClosed):
                await self.ws.send(json.dumps(frame))
        return client_msg_id

    async def ack(self, client_msg_id: str, timeout: float = _DEFAULT) -> AckFrame:
        """The `ack` of a message sent with `send_message`; raises ParleyError(0, detail, code)
        when the server answered with an `error` frame for it."""
        if timeout == _DEFAULT:
            timeout = self.default_timeout
        pending = self._pending.get(client_msg_id)
        if pending is None:
            # Already answered: find the ack in the inbox.
            frame = await self.next_frame(
                "ack", timeout=timeout, where=lambda f: f.client_msg_id == client_msg_id
            )
            self._inbox.append(frame)
            return frame  # type: ignore[no-any-return]
        return await asyncio.wait_for(asyncio.shield(pending.future), timeout)

    async def send_message_acked(
        self, conversation_id: int, content: str, *, timeout: float = _DEFAULT, **kwargs: Any
    ) -> MessageRead:
        """Sends and waits for the ack; returns the stored message."""
        cmid = await self.send_message(conversation_id, content, **kwargs)
        return (await self.ack(cmid, timeout)).message

    async def typing(self, conversation_id: int, is_typing: bool = True) -> None:
        await self.send(
            {"type": "typing", "conversation_id": conversation_id, "is_typing": is_typing}
        )

    async def join(self, conversation_id: int) -> None:
        await self.send({"type": "join_conversation", "conversation_id": conversation_id})

    async def leave(self, conversation_id: int) -> None:
        await self.send({"type": "leave_conversation", "conversation_id": conversation_id})

    async def mark_read(self, conversation_id: int, seq: int) -> None:
        await self.send({"type": "mark_read", "conversation_id": conversation_id, "seq": seq})

    async def mark_delivered(self, conversation_id: int, seq: int) -> None:
        await self.send({"type": "mark_delivered", "conversation_id": conversation_id, "seq": seq})

    async def resume(self, cursors: dict[int, int] | None = None) -> None:
        """Asks for every message after the cursors (default: the socket's own)."""
        if cursors is None:
            frame = self._resume_frame()
        else:
            self.resumes_sent += 1
            frame = {"type": "resume", "cursors": {str(c): s for c, s in cursors.items()}}
        await self.send(frame)

    async def ping(self) -> None:
        self._explicit_pings += 1
        await self.send({"type": "ping"})

    async def authenticate(self, token: str | None = None) -> None:
        """Sends an `auth` frame (replaces the connection's token)."""
        await self.send({"type": "auth", "token": token or self._token_now()})
