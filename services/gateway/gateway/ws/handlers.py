"""Client frames → actions. Every refusal is an `error` frame; the connection stays open.
One handler serves every socket of the replica."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from pydantic import ValidationError

from parley_common import frames as fr
from parley_common.events import Typing, conv_key
from parley_common.jwt_verify import InvalidToken
from parley_common.transient import publish_transient

from ..metrics import WS_FRAMES_IN
from . import resume
from .chat_calls import ChatError, call, is_member
from .connection import Connection

if TYPE_CHECKING:
    from ..runtime import Gateway

log = structlog.get_logger(__name__)

NOT_A_MEMBER = "Conversation not found or access denied"


def bad_request(detail: Any) -> fr.ErrorFrame:
    return fr.ErrorFrame(code="bad_request", detail=detail)


class FrameHandler:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self._handlers: dict[str, Callable[[Connection, Any], Awaitable[None]]] = {
            "ping": self.ping,
            "auth": self.auth,
            "join_conversation": self.join,
            "leave_conversation": self.leave,
            "send_message": self.send_message,
            "typing": self.typing,
            "mark_read": self.mark,
            "mark_delivered": self.mark,
            "resume": self.resume,
        }

    async def handle(self, conn: Connection, text: str) -> None:
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            WS_FRAMES_IN.labels("invalid").inc()
            conn.send(bad_request("Malformed JSON"))
            return
        frame_type = data.get("type") if isinstance(data, dict) else None
        if not isinstance(frame_type, str) or frame_type not in fr.CLIENT_FRAME_TYPES:
            WS_FRAMES_IN.labels("unknown").inc()
            conn.send(bad_request(f"Unknown frame type: {str(frame_type)[:64]}"))
            return
        WS_FRAMES_IN.labels(frame_type).inc()
        try:
            frame = fr.parse_client_frame(data)
        except ValidationError as exc:
            errors = [
                {"loc": list(e["loc"][1:]), "msg": e["msg"], "type": e["type"]}
                for e in exc.errors()
            ]
            client_msg_id = data.get("client_msg_id")
            error = bad_request(errors)
            if frame_type == "resume":
                error.code = "invalid"  # unusable cursors (issue 12): ids or seqs beyond int64
            if isinstance(client_msg_id, str) and len(client_msg_id) <= 64:
                error.client_msg_id = client_msg_id
            conn.send(error)
            return
        try:
            await self._handlers[frame_type](conn, frame)
        except ChatError as exc:
            conn.send(exc.frame)

    async def ping(self, conn: Connection, _: fr.PingFrame) -> None:
        conn.send(fr.PongFrame())

    async def auth(self, conn: Connection, frame: fr.AuthFrame) -> None:
        try:
            claims = await self.gw.verifier.verify(frame.token)
        except InvalidToken:
            conn.send(fr.ErrorFrame(code="forbidden", detail="Could not validate credentials"))
            return
        if claims.user_id != conn.user_id:
            conn.send(fr.ErrorFrame(code="forbidden", detail="Token belongs to another user"))
            return
        conn.token, conn.sid, conn.expires_at = frame.token, claims.sid, claims.exp
        conn.arm_expiry(self.gw.settings.token_expiring_seconds)

    async def join(self, conn: Connection, frame: fr.JoinConversationFrame) -> None:
        cid = frame.conversation_id
        if not await is_member(self.gw.upstreams.chat, cid, conn.user_id):
            conn.send(fr.ErrorFrame(code="not_found", detail=NOT_A_MEMBER, conversation_id=cid))
            return
        # Membership may be newer than this replica's view (e.g. the event is still in flight).
        await self.gw.registry.bind(self.gw.registry.add_member(conn.user_id, cid))
        conn.send(fr.JoinedConversationFrame(conversation_id=cid))
        self.gw.viewers.join(conn, cid)

    async def leave(self, conn: Connection, frame: fr.LeaveConversationFrame) -> None:
        self.gw.viewers.leave(conn, frame.conversation_id)
        conn.send(fr.LeftConversationFrame(conversation_id=frame.conversation_id))

    async def send_message(self, conn: Connection, frame: fr.SendMessageFrame) -> None:
        if frame.conversation_id is None:
            # To a user: their direct conversation, opened under chat's rules on first use.
            body = {"type": "direct", "member_user_ids": [frame.recipient_id]}
            try:
                response = await call(
                    self.gw.upstreams.chat, conn, "POST", "/conversations", json=body
                )
            except ChatError as exc:
                conn.send(exc.frame.model_copy(update={"client_msg_id": frame.client_msg_id}))
                return
            cid = int(response.json()["id"])
            await self.gw.registry.bind(self.gw.registry.add_member(conn.user_id, cid))
            frame = frame.model_copy(update={"conversation_id": cid})
        conn.send(await self.gw.sends.send(conn.user_id, frame))

    async def typing(self, conn: Connection, frame: fr.TypingClientFrame) -> None:
        cid = frame.conversation_id
        if not self.gw.registry.is_member(conn.user_id, cid):
            conn.send(fr.ErrorFrame(code="not_found", detail=NOT_A_MEMBER, conversation_id=cid))
            return
        data = Typing(
            conversation_id=cid,
            user_id=conn.user_id,
            username=conn.username,
            is_typing=frame.is_typing,
        )
        await publish_transient(
            self.gw.bus, data, conv_key(cid, data.EVENT_TYPE), producer="gateway"
        )

    async def mark(self, conn: Connection, frame: fr.MarkReadFrame | fr.MarkDeliveredFrame) -> None:
        which = "read" if frame.type == "mark_read" else "delivered"
        path = f"/conversations/{frame.conversation_id}/{which}"
        try:
            await call(self.gw.upstreams.chat, conn, "POST", path, json={"seq": frame.seq})
        except ChatError as exc:
            conn.send(exc.frame.model_copy(update={"conversation_id": frame.conversation_id}))

    async def resume(self, conn: Connection, frame: fr.ResumeFrame) -> None:
        s = self.gw.settings
        await resume.replay(
            self.gw.upstreams.chat,
            conn,
            frame.cursors,
            page_size=s.resume_page_size,
            limit=s.resume_max_messages,
        )
