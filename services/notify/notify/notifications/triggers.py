"""Which events create which in-app notifications (types of PROTOCOL.md)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.events import (
    ConversationCreated,
    FriendAccepted,
    FriendRequested,
    MemberAdded,
    MessageCreated,
)
from parley_common.outbox import Outbox
from parley_common.schemas import message_summary

from .. import blocks
from . import repository, service

BODY_PREVIEW = 200


def _preview(text: str) -> str:
    return text if len(text) <= BODY_PREVIEW else text[: BODY_PREVIEW - 1] + "…"


def conversation_link(conversation_id: int) -> str:
    return f"/?conversation={conversation_id}"


# System messages from a host application's backend (chat's integration API) whose kind
# concerns every participant: each gets an `integration` notification.
NOTIFYING_KINDS = {"payment": "Payment update", "dispute": "Dispute update"}


def notifies(event: MessageCreated) -> bool:
    """Whether the message may create notifications (mentions, a host's payment or dispute)."""
    message = event.message
    if message.deleted:
        return False
    if message.type == "system":
        return message.kind in NOTIFYING_KINDS
    return any(u != message.sender_id for u in message.mentions)


async def on_message_txn(session: AsyncSession, outbox: Outbox, event: MessageCreated) -> None:
    """A mention notification for each mentioned member (never the sender); an `integration`
    notification for every member on a payment or dispute message."""
    message = event.message
    if message.deleted:
        return
    if message.type == "system" and message.kind in NOTIFYING_KINDS:
        await _integration_txn(session, outbox, event, NOTIFYING_KINDS[message.kind])
        return
    if not notifies(event):
        return
    members = set(event.member_ids)
    mentioned = [u for u in dict.fromkeys(message.mentions) if u in members]
    # Someone who blocked the sender is never told the sender mentioned them.
    blocked_sender = await blocks.blockers_of(session, message.sender_id, mentioned)
    for user_id in mentioned:
        if user_id == message.sender_id or user_id in blocked_sender:
            continue
        await service.create_txn(
            session,
            outbox,
            user_id=user_id,
            type_="mention",
            title=f"{message.sender_username} mentioned you",
            body=_preview(message_summary(message)),
            link=conversation_link(message.conversation_id),
            data={
                "conversation_id": message.conversation_id,
                "message_id": message.id,
                "seq": message.seq,
                "sender_id": message.sender_id,
            },
            conversation_id=message.conversation_id,
            seq=message.seq,
        )


async def _integration_txn(
    session: AsyncSession, outbox: Outbox, event: MessageCreated, title: str
) -> None:
    message = event.message
    for user_id in sorted(set(event.member_ids)):
        await service.create_txn(
            session,
            outbox,
            user_id=user_id,
            type_="integration",
            title=title,
            body=_preview(message_summary(message)),
            link=conversation_link(message.conversation_id),
            data={
                "conversation_id": message.conversation_id,
                "message_id": message.id,
                "seq": message.seq,
                "kind": message.kind,
                "metadata": message.metadata or {},
            },
            conversation_id=message.conversation_id,
            seq=message.seq,
        )


async def on_friend_requested_txn(
    session: AsyncSession, outbox: Outbox, event: FriendRequested
) -> None:
    requester = event.request.requester
    if await blocks.blockers_of(session, requester.id, [event.receiver_id]):
        return
    await service.create_txn(
        session,
        outbox,
        user_id=event.receiver_id,
        type_="friend_request",
        title=f"{requester.username} sent you a friend request",
        link="/?view=friends",
        data={
            "request_id": event.request.id,
            "requester": {"id": requester.id, "username": requester.username},
        },
    )


async def on_friend_accepted_txn(
    session: AsyncSession, outbox: Outbox, event: FriendAccepted
) -> None:
    accepter = event.accepter
    await service.create_txn(
        session,
        outbox,
        user_id=event.requester_id,
        type_="friend_accepted",
        title=f"{accepter.username} accepted your friend request",
        link="/?view=friends",
        data={
            "request_id": event.request_id,
            "user": {"id": accepter.id, "username": accepter.username},
        },
    )


async def added_to_group_txn(
    session: AsyncSession,
    outbox: Outbox,
    *,
    user_id: int,
    conversation_id: int,
    conversation_name: str | None,
    added_by: str | None,
    added_by_id: int | None,
) -> None:
    """One unread `added_to_group` per (user, conversation): chat may announce the same addition
    both as conversation.created and as member.added."""
    if await repository.has_unread(session, user_id, "added_to_group", conversation_id):
        return
    if user_id in await blocks.blockers_of(session, added_by_id, [user_id]):
        return  # chat refuses this since consent rules; an older group could still do it
    name = conversation_name or "a group"
    title = f"{added_by} added you to {name}" if added_by else f"You were added to {name}"
    await service.create_txn(
        session,
        outbox,
        user_id=user_id,
        type_="added_to_group",
        title=title,
        link=conversation_link(conversation_id),
        data={"conversation_id": conversation_id, "added_by": added_by_id},
        conversation_id=conversation_id,
    )


async def on_member_added_txn(
    session: AsyncSession, outbox: Outbox, event: MemberAdded, conversation_name: str | None
) -> None:
    if event.added_by is None or event.added_by.id == event.new_user.id:
        return  # joined by themselves (or created the group): nothing to tell them
    await added_to_group_txn(
        session,
        outbox,
        user_id=event.new_user.id,
        conversation_id=event.conversation_id,
        conversation_name=conversation_name,
        added_by=event.added_by.username,
        added_by_id=event.added_by.id,
    )


async def on_conversation_created_txn(
    session: AsyncSession, outbox: Outbox, event: ConversationCreated
) -> None:
    """The members of a new group other than its creator were added to it."""
    conversation = event.conversation
    if conversation.type != "group" or event.created_by is None:
        return
    usernames = {m.user.id: m.user.username for m in conversation.members}
    for user_id in conversation.member_ids:
        if user_id == event.created_by:
            continue
        await added_to_group_txn(
            session,
            outbox,
            user_id=user_id,
            conversation_id=conversation.id,
            conversation_name=conversation.name,
            added_by=usernames.get(event.created_by),
            added_by_id=event.created_by,
        )
