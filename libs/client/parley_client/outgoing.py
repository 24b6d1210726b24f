"""The frames a socket sends (PROTOCOL.md section 2), with the ledger of sends not acked yet:
they are sent again after every reconnect, with the same client_msg_id."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from .inbox import DEFAULT as _DEFAULT
from .ledger import MessageLedger
from .wire import frames, schemas

AckFrame = frames.AckFrame
MessageRead = schemas.MessageRead


@dataclass
class Pending:
    frame: dict[str, Any]
    future: asyncio.Future[AckFrame] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class FrameSender:
    """Part of `Socket`: the attributes below are the socket's."""

    ws: ClientConnection | None
    fatal: Exception | None
    default_timeout: float
    resumes_sent: int
    ledger: MessageLedger
    _pending: dict[str, Pending]
    _open: asyncio.Event
    _inbox: list[Any]
    _explicit_pings: int

    def _token_now(self) -> str:
        raise NotImplementedError

    async def next_frame(
        self,
        type: str | None = None,
        *,
        timeout: float | None = _DEFAULT,
        where: Callable[[Any], bool] | None = None,
    ) -> Any:
        raise NotImplementedError

    def _resume_frame(self) -> dict[str, Any]:
        self.resumes_sent += 1
        return {"type": "resume", "cursors": {str(c): s for c, s in self.ledger.cursors.items()}}

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
        conversation_id: int | None,
        content: str,
        *,
        client_msg_id: str | None = None,
        reply_to: int | None = None,
        attachment_ids: Sequence[int] = (),
        recipient_id: int | None = None,
    ) -> str:
        """Sends a message; returns its client_msg_id (await `ack(client_msg_id)` for the
        stored message). Until acked it is resent after every reconnect. With `recipient_id`
        (and no conversation): the direct conversation with that user, opened on first use."""
        client_msg_id = client_msg_id or uuid.uuid4().hex
        frame: dict[str, Any] = {
            "type": "send_message",
            "content": content,
            "client_msg_id": client_msg_id,
        }
        if conversation_id is not None:
            frame["conversation_id"] = conversation_id
        if recipient_id is not None:
            frame["recipient_id"] = recipient_id
        if reply_to is not None:
            frame["reply_to"] = reply_to
        if attachment_ids:
            frame["attachment_ids"] = list(attachment_ids)
        if self.fatal is not None:
            raise self.fatal
        self._pending[client_msg_id] = Pending(frame)
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
