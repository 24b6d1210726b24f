"""Service-to-service routes (never routed by the gateway; need X-Parley-Service-Token)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel

from parley_common.internal import ServiceCaller
from parley_common.schemas import INT64_MAX, Int64, MessageRead

from ..conversations import repository as conv_repo
from ..deps import SessionDep
from ..friends import repository as friend_repo
from ..messages import service as message_service

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
    after_seq: Int64 = Query(default=0, ge=0, le=INT64_MAX),
    limit: int = Query(default=100, ge=1, le=500),
) -> MessagePage:
    """Messages after `after_seq` that the user may see (for resume), oldest first."""
    messages = await message_service.visible_after(
        session, conversation_id=conversation_id, user_id=user_id, after_seq=after_seq, limit=limit
    )
    return MessagePage(messages=messages)
