"""Service-to-service routes (never routed by the gateway; need X-Parley-Service-Token)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.datastructures import State

from parley_common.errors import ServiceError
from parley_common.frames import MAX_ATTACHMENTS, Id
from parley_common.internal import ServiceCaller
from parley_common.internal_calls import InternalRoute
from parley_common.schemas import JSON_INT_MAX, Int64, MessageRead

from ..conversations import repository as conv_repo
from ..deps import SessionDep
from ..friends import repository as friend_repo
from ..messages import service as message_service
from ..messages.sending import SendRequest
from ..messages.service import check_attachment_ids, checked_content
from ..runtime import ChatRuntime, chat_runtime
from .setups import friends_and_conversations

router = APIRouter(prefix="/internal", dependencies=[ServiceCaller], tags=["internal"])


class ConversationIds(BaseModel):
    conversation_ids: list[int]


class FriendIds(BaseModel):
    friend_ids: list[int]


class MemberIds(BaseModel):
    member_ids: list[int]


class IsMember(BaseModel):
    member: bool


class MessagePage(BaseModel):
    messages: list[MessageRead]


class InternalSend(BaseModel):
    """A send over a user's WebSocket; the gateway has verified the user."""

    sender_id: Id
    conversation_id: Id
    content: str
    client_msg_id: str | None = Field(default=None, max_length=128)
    reply_to: Id | None = None
    attachment_ids: list[Id] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class InternalSends(BaseModel):
    sends: list[InternalSend] = Field(max_length=1000)


@router.post("/messages")
async def send_messages(request: Request, body: InternalSends) -> Response:
    """Sends of several users at once (the gateway's WebSocket sends). One result per send, in
    order: `{"message": {...}}` or `{"error": {"status", "detail", "code"}}`."""
    answer = await sends_of(chat_runtime(request.app.state), body)
    return Response(orjson.dumps(answer), media_type="application/json")


async def sends_of(rt: ChatRuntime, body: InternalSends) -> dict[str, Any]:
    max_length = rt.settings.max_message_length
    results: list[dict[str, Any] | None] = [None] * len(body.sends)
    checked: list[tuple[int, SendRequest]] = []
    for i, send in enumerate(body.sends):
        try:
            content = checked_content(
                send.content, max_length, allow_empty=bool(send.attachment_ids)
            )
            check_attachment_ids(send.attachment_ids)
        except ServiceError as exc:
            results[i] = _error(exc)
            continue
        checked.append(
            (
                i,
                SendRequest(
                    sender_id=send.sender_id,
                    conversation_id=send.conversation_id,
                    content=content,
                    client_msg_id=send.client_msg_id or None,
                    reply_to=send.reply_to,
                    attachment_ids=tuple(send.attachment_ids),
                ),
            )
        )
    outcomes = await rt.parts.sender.send_many([r for _, r in checked])
    for (i, _), outcome in zip(checked, outcomes, strict=True):
        results[i] = (
            _error(outcome)
            if isinstance(outcome, ServiceError)
            else {"message": outcome.model_dump(mode="json")}
        )
    return {"results": results}


def _error(exc: ServiceError) -> dict[str, Any]:
    return {"error": {"status": exc.status_code, "detail": exc.detail, "code": exc.code}}


class UserIds(BaseModel):
    user_ids: list[Id] = Field(max_length=5000)


class SocketSetup(BaseModel):
    friend_ids: list[int]
    conversation_ids: list[int]


class SocketSetups(BaseModel):
    users: dict[int, SocketSetup]


@router.post("/users/lookup", response_model=SocketSetups)
async def socket_setups(request: Request, body: UserIds) -> SocketSetups:
    """For new sockets of these users: each one's friends and current conversations."""
    return await setups_of(chat_runtime(request.app.state), body)


async def setups_of(rt: ChatRuntime, body: UserIds) -> SocketSetups:
    ids = sorted(set(body.user_ids))
    friends, conversations = await friends_and_conversations(rt.sessionmaker, ids)
    return SocketSetups(
        users={
            u: SocketSetup(friend_ids=friends[u], conversation_ids=conversations[u]) for u in ids
        }
    )


def handlers(state: State) -> dict[str, InternalRoute[Any]]:
    """The live path's internal routes as handlers (parley_common.internal_calls)."""

    async def sends(body: InternalSends) -> Any:
        return await sends_of(chat_runtime(state), body)

    async def setups(body: UserIds) -> Any:
        return (await setups_of(chat_runtime(state), body)).model_dump(mode="json")

    return {
        "/internal/messages": InternalRoute(InternalSends, sends),
        "/internal/users/lookup": InternalRoute(UserIds, setups),
    }


@router.get("/users/{user_id}/conversations", response_model=ConversationIds)
async def user_conversations(session: SessionDep, user_id: Int64) -> ConversationIds:
    """Conversations the user is a current member of."""
    return ConversationIds(conversation_ids=await conv_repo.conversation_ids_of(session, user_id))


@router.get("/users/{user_id}/friends", response_model=FriendIds)
async def user_friends(session: SessionDep, user_id: Int64) -> FriendIds:
    """The user's friends."""
    return FriendIds(friend_ids=await friend_repo.friend_ids(session, user_id))


@router.get("/conversations/{conversation_id}/members", response_model=MemberIds)
async def conversation_members(session: SessionDep, conversation_id: Int64) -> MemberIds:
    """Current members of a conversation."""
    return MemberIds(member_ids=await conv_repo.active_member_ids(session, conversation_id))


@router.get("/conversations/{conversation_id}/members/{user_id}", response_model=IsMember)
async def is_member(session: SessionDep, conversation_id: Int64, user_id: Int64) -> IsMember:
    """Whether the user is a current member."""
    member = await conv_repo.active_member(session, conversation_id, user_id)
    return IsMember(member=member is not None)


@router.get("/conversations/{conversation_id}/messages", response_model=MessagePage)
async def messages_after(
    session: SessionDep,
    conversation_id: Int64,
    user_id: Int64,
    after_seq: Int64 = Query(default=0, ge=0, le=JSON_INT_MAX),
    limit: int = Query(default=100, ge=1, le=500),
) -> MessagePage:
    """Messages after `after_seq` that the user may see (for resume), oldest first."""
    messages = await message_service.visible_after(
        session, conversation_id=conversation_id, user_id=user_id, after_seq=after_seq, limit=limit
    )
    return MessagePage(messages=messages)
