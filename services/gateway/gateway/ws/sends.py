"""`send_message` frames to chat: the sends of every socket that arrive together share one
rate-limit round trip and one call to chat's `POST /internal/messages` (which writes them in
one transaction). The gateway has verified each sender; chat trusts the service token
(ARCHITECTURE.md, step 2 of "One message, end to end")."""

from __future__ import annotations

from typing import Any

import structlog
from pydantic import ValidationError

from parley_common import frames as fr
from parley_common.batching import Batcher
from parley_common.internal_calls import InternalCallFailed, InternalClient
from parley_common.ratelimit import TokenBucket
from parley_common.schemas import MessageRead

from .chat_calls import error_frame, unavailable

log = structlog.get_logger(__name__)

Send = tuple[int, fr.SendMessageFrame]  # (sender's user id, the frame)


class ChatSends:
    def __init__(self, chat: InternalClient, limiter: TokenBucket) -> None:
        self._chat = chat
        self._limiter = limiter
        self._batcher: Batcher[Send, fr.Frame] = Batcher(
            self._send_batch, concurrency=2, max_batch=200, name="ws-sends"
        )

    async def send(self, user_id: int, frame: fr.SendMessageFrame) -> fr.Frame:
        """The `ack` for the sender, or the `error` (with the frame's client_msg_id)."""
        return await self._batcher.submit((user_id, frame))

    async def close(self) -> None:
        await self._batcher.close()

    async def _send_batch(self, sends: list[Send]) -> list[fr.Frame]:
        results: list[fr.Frame | None] = [None] * len(sends)
        try:
            decisions = await self._limiter.take_many([str(user) for user, _ in sends])
        except Exception:
            log.warning("ws.rate_limit_unavailable", exc_info=True)
            return [_with_id(unavailable(), f) for _, f in sends]
        allowed: list[int] = []
        for i, ((_, frame), decision) in enumerate(zip(sends, decisions, strict=True)):
            if decision.allowed:
                allowed.append(i)
            else:
                results[i] = fr.ErrorFrame(
                    code="rate_limited",
                    detail="Too many messages, slow down",
                    client_msg_id=frame.client_msg_id,
                    retry_after=decision.retry_after,
                )
        if allowed:
            for i, answer in zip(
                allowed, await self._call([sends[i] for i in allowed]), strict=True
            ):
                results[i] = answer
        return [r for r in results if r is not None]

    async def _call(self, sends: list[Send]) -> list[fr.Frame]:
        body = {
            "sends": [
                {
                    "sender_id": user,
                    "conversation_id": f.conversation_id,
                    "content": f.content,
                    "client_msg_id": f.client_msg_id,
                    "reply_to": f.reply_to,
                    "attachment_ids": f.attachment_ids,
                }
                for user, f in sends
            ]
        }
        try:
            answers: list[dict[str, Any]] = (await self._chat.post("/internal/messages", body))[
                "results"
            ]
        except (InternalCallFailed, KeyError, TypeError):
            answers = []
        if len(answers) != len(sends):
            return [_with_id(unavailable(), f) for _, f in sends]
        return [_frame(answer, f) for answer, (_, f) in zip(answers, sends, strict=True)]


def _frame(answer: dict[str, Any], frame: fr.SendMessageFrame) -> fr.Frame:
    if "message" in answer:
        try:
            message = MessageRead.model_validate(answer["message"])
        except ValidationError:
            log.error("ws.bad_chat_response", path="/internal/messages")
            return _with_id(unavailable(), frame)
        return fr.AckFrame(client_msg_id=frame.client_msg_id, message=message)
    error = answer.get("error") or {}
    return _with_id(error_frame(int(error.get("status", 500)), error), frame)


def _with_id(error: fr.ErrorFrame, frame: fr.SendMessageFrame) -> fr.ErrorFrame:
    return error.model_copy(update={"client_msg_id": frame.client_msg_id})
