"""What chat does when an account is deleted (`user.deleted`, issue 17).

- The users projection keeps a tombstone: "Deleted user", no address, no avatar; its id still
  names the sender of the messages the others keep.
- Friendships (each ex-friend is told, friend.removed), friend requests and blocks go, both ways.
- The user leaves every group as a member leaving would (a system message, member.removed, and
  admin handed to the oldest member when they were the last admin); direct chats stay, so the
  other side keeps the history.
- Their messages show "Deleted user"; with `deleted_user_messages = erase` their content,
  reactions and attachments go too. Their own reactions and never-attached uploads always go.

Idempotent: a redelivered event (or a second one) finds the tombstone and changes nothing.
"""

from __future__ import annotations

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import insert_for, utcnow
from parley_common.events import Envelope, FriendRemoved, UserDeleted
from parley_common.schemas import DELETED_USERNAME, deleted_user_key

from .. import publish
from ..conversations import repository as conversation_repo
from ..conversations import service as conversation_service
from ..deps import Ctx
from ..friends import repository as friend_repo
from ..models import (
    Attachment,
    Block,
    Conversation,
    FriendRequest,
    Friendship,
    Member,
    Message,
    Reaction,
    User,
)


async def on_user_deleted(ctx: Ctx, env: Envelope) -> None:
    session = ctx.session
    e = env.parse(UserDeleted)
    uid = e.user_id
    existing = await session.get(User, uid, with_for_update=True)
    if existing is not None and existing.deleted_at is not None:
        return
    if existing is not None:  # published events naming the user go now, not at retention
        await ctx.outbox.forget_published(session, [existing.username, existing.email])
    await _tombstone(session, uid, e)
    await _end_relations(ctx, uid)
    await _leave_groups(ctx, uid)
    await _anonymise_messages(ctx, uid)


async def _tombstone(session: AsyncSession, uid: int, e: UserDeleted) -> None:
    values = {
        "username": DELETED_USERNAME,
        "username_key": deleted_user_key(uid),
        "email": "",
        "avatar_url": None,
        "updated_at": utcnow(),
        "deleted_at": e.deleted_at,
    }
    stmt = insert_for(session)(User).values(id=uid, created_at=e.deleted_at, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))
    session.expire_all()  # the ORM's copy of the row still had the old name


async def _end_relations(ctx: Ctx, uid: int) -> None:
    session = ctx.session
    for friend_id in await friend_repo.friend_ids(session, uid):
        event = FriendRemoved(user_id=uid, friend_id=friend_id)
        await publish.to_users(session, ctx.outbox, [friend_id], event)
    await session.execute(
        delete(Friendship).where(or_(Friendship.user_low == uid, Friendship.user_high == uid))
    )
    await session.execute(
        delete(FriendRequest).where(
            or_(FriendRequest.requester_id == uid, FriendRequest.receiver_id == uid)
        )
    )
    await session.execute(
        delete(Block).where(or_(Block.blocker_id == uid, Block.blocked_id == uid))
    )


async def _leave_groups(ctx: Ctx, uid: int) -> None:
    session = ctx.session
    groups = await session.scalars(
        select(Conversation)
        .join(Member, Member.conversation_id == Conversation.id)
        .where(Member.user_id == uid, Member.left_at.is_(None), Conversation.type == "group")
        .order_by(Conversation.id)
    )
    for conversation in list(groups):
        member = await conversation_repo.active_member(session, conversation.id, uid)
        if member is not None:
            await conversation_service.remove_member(ctx, conversation, member, reason="left")
    await session.execute(update(Member).where(Member.user_id == uid).values(hidden_seq=None))
    # Who created a group says something about the user; the group no longer needs to know.
    await session.execute(
        update(Conversation).where(Conversation.created_by == uid).values(created_by=None)
    )


async def _anonymise_messages(ctx: Ctx, uid: int) -> None:
    session, now = ctx.session, utcnow()
    await session.execute(
        update(Message).where(Message.sender_id == uid).values(sender_username=DELETED_USERNAME)
    )
    await session.execute(delete(Reaction).where(Reaction.user_id == uid))
    gone = [Attachment.uploader_id == uid, Attachment.message_id.is_(None)]
    if ctx.settings.deleted_user_messages == "erase":
        theirs = select(Message.id).where(Message.sender_id == uid)
        await session.execute(delete(Reaction).where(Reaction.message_id.in_(theirs)))
        await session.execute(
            update(Message)
            .where(Message.sender_id == uid)
            .values(content="", deleted=True, mentions=[], extra=None, edited_at=now)
        )
        gone = [Attachment.uploader_id == uid]
    removed = await session.execute(
        update(Attachment).where(*gone, Attachment.deleted_at.is_(None)).values(deleted_at=now)
    )
    if getattr(removed, "rowcount", 0):
        ctx.sweeper.wake_after_commit(session)  # the stored files go after the commit
