"""Conversations and their members: direct chats (one per pair) and groups with admins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from parley_common.db import utcnow
from parley_common.events import (
    ConversationCreated,
    ConversationUpdated,
    MemberAdded,
    MemberRemoved,
    user_key,
)
from parley_common.events import envelope as make_envelope
from parley_common.schemas import ConversationRead, UserRef

from .. import publish
from .. import users as user_repo
from ..deps import Ctx
from ..errors import (
    BadRequest,
    ConversationAccessDenied,
    ConversationNotFound,
    Forbidden,
    MessagingBlocked,
    NotAdmin,
    NotFound,
    UserNotFound,
)
from ..friends import repository as friend_repo
from ..messages import service as message_service
from ..models import Conversation, Member, User
from . import consent, views
from . import repository as repo

MEMBER_NOT_FOUND = "Member not found in this conversation"


def pair_key(a: int, b: int) -> str:
    low, high = sorted((a, b))
    return f"direct:{low}:{high}"


async def _created(ctx: Ctx, conversation: Conversation) -> ConversationRead:
    read = await views.to_read(ctx.session, conversation, ctx.user_id)
    env = make_envelope(
        ConversationCreated(conversation=read, created_by=ctx.user_id), producer="chat"
    )
    await ctx.outbox.add(ctx.session, env, [user_key(u, env.type) for u in read.member_ids])
    return read


async def create_direct(ctx: Ctx, *, member_user_ids: list[int]) -> ConversationRead:
    others = sorted({u for u in member_user_ids if u != ctx.user_id})
    if len(others) != 1:
        raise BadRequest("Direct conversation requires exactly one other user ID")
    other = others[0]
    if await user_repo.get(ctx.session, other) is None:
        raise UserNotFound()
    if await friend_repo.is_blocked_either_way(ctx.session, ctx.user_id, other):
        raise MessagingBlocked()
    key = pair_key(ctx.user_id, other)
    existing = await repo.by_pair_key(ctx.session, key)
    if existing is not None:
        # Both stay members of a direct chat; it is the same conversation every time.
        return await views.to_read(ctx.session, existing, ctx.user_id)
    if not ctx.settings.allow_stranger_dms and not await friend_repo.are_friends(
        ctx.session, ctx.user_id, other
    ):
        raise Forbidden("You can only start direct chats with friends", code="not_friends")
    now = utcnow()
    conversation = _new_conversation(ctx, "direct", None, pair_key=key, now=now)
    try:
        async with ctx.session.begin_nested():
            ctx.session.add(conversation)
            await ctx.session.flush()
            for uid in sorted((ctx.user_id, other)):
                ctx.session.add(
                    Member(
                        conversation_id=conversation.id, user_id=uid, role="member", joined_at=now
                    )
                )
            await ctx.session.flush()
    except IntegrityError:
        # The other side created it at the same moment: answer with theirs.
        existing = await repo.by_pair_key(ctx.session, key)
        if existing is None:
            raise
        return await views.to_read(ctx.session, existing, ctx.user_id)
    return await _created(ctx, conversation)


def _new_conversation(
    ctx: Ctx, kind: str, name: str | None, *, pair_key: str | None, now: datetime
) -> Conversation:
    """A conversation row as its creator opens it; only groups can be renamed by members."""
    return Conversation(
        type=kind,
        name=name,
        private_pair_key=pair_key,
        created_by=ctx.user_id,
        created_at=now,
        last_activity_at=now,
        last_seq=0,
        allow_member_add=False,
        allow_member_rename=kind == "group",
    )


async def create_group(
    ctx: Ctx, *, name: str | None, member_user_ids: list[int]
) -> ConversationRead:
    name = (name or "").strip()
    if not name:
        raise BadRequest("Group name is required", code="name_required")
    if len(name) > 200:
        raise BadRequest("Group name is too long", code="name_too_long")
    others = sorted({u for u in member_user_ids if u != ctx.user_id})
    found = await user_repo.get_many(ctx.session, [*others, ctx.user_id])
    if any(u not in found for u in others):
        raise UserNotFound()
    if ctx.user_id not in found:
        raise UserNotFound()
    if await friend_repo.blocked_among(ctx.session, ctx.user_id, others):
        raise Forbidden("You cannot add this user", code="blocked")
    await consent.check_group_members(ctx, new_member_ids=others, existing_member_ids=[])
    now = utcnow()
    conversation = _new_conversation(ctx, "group", name, pair_key=None, now=now)
    ctx.session.add(conversation)
    await ctx.session.flush()
    ctx.session.add(
        Member(conversation_id=conversation.id, user_id=ctx.user_id, role="admin", joined_at=now)
    )
    for uid in others:
        ctx.session.add(
            Member(conversation_id=conversation.id, user_id=uid, role="member", joined_at=now)
        )
    await ctx.session.flush()
    return await _created(ctx, conversation)


async def _member_of(ctx: Ctx, conversation_id: int) -> tuple[Conversation, Member]:
    conversation = await repo.get(ctx.session, conversation_id)
    member = (
        await repo.active_member(ctx.session, conversation_id, ctx.user_id)
        if conversation
        else None
    )
    if conversation is None or member is None:
        raise ConversationAccessDenied()
    return conversation, member


async def get(ctx: Ctx, *, conversation_id: int) -> ConversationRead:
    conversation = await repo.get(ctx.session, conversation_id)
    if (
        conversation is None
        or await repo.active_member(ctx.session, conversation_id, ctx.user_id) is None
    ):
        raise ConversationNotFound()
    return await views.to_read(ctx.session, conversation, ctx.user_id)


async def get_direct(ctx: Ctx, *, user_id: int) -> ConversationRead:
    """The caller's direct conversation with `user_id` (404 when there is none)."""
    conversation = await repo.by_pair_key(ctx.session, pair_key(ctx.user_id, user_id))
    if conversation is None:
        raise ConversationNotFound()
    return await get(ctx, conversation_id=conversation.id)


async def list_mine(
    ctx: Ctx, *, order: str, limit: int | None, before: int | None
) -> list[ConversationRead]:
    rows = await repo.list_for(ctx.session, ctx.user_id, order=order, limit=limit, before=before)
    return await views.to_reads(ctx.session, rows, ctx.user_id)


async def _publish_updated(ctx: Ctx, conversation: Conversation) -> None:
    event = ConversationUpdated(
        conversation_id=conversation.id,
        name=conversation.name,
        type=conversation.type,
        updated_by=ctx.user_id,
        avatar_url=conversation.avatar_url,
    )
    await publish.to_conversation(ctx.session, ctx.outbox, conversation.id, event)


async def _username(ctx: Ctx, user_id: int) -> str:
    user = await user_repo.get(ctx.session, user_id)
    return user.username if user else f"user {user_id}"


async def rename(ctx: Ctx, *, conversation_id: int, name: str | None) -> ConversationRead:
    conversation, member = await _member_of(ctx, conversation_id)
    if conversation.type != "group":
        raise BadRequest("Cannot rename direct conversations", code="direct_conversation")
    if not conversation.allow_member_rename and member.role != "admin":
        raise NotAdmin("Only conversation admin can rename the group")
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise BadRequest("Group name is required", code="name_required")
    if name != conversation.name:
        conversation.name = name
        await ctx.session.flush()
        who = await _username(ctx, ctx.user_id)
        await message_service.post_system(
            ctx.session, ctx.outbox, conversation.id, f'{who} renamed the group to "{name}"'
        )
        await _publish_updated(ctx, conversation)
    await ctx.session.refresh(conversation)
    return await views.to_read(ctx.session, conversation, ctx.user_id)


async def update_settings(
    ctx: Ctx, *, conversation_id: int, changes: dict[str, Any]
) -> dict[str, Any]:
    conversation, member = await _member_of(ctx, conversation_id)
    if member.role != "admin":
        raise NotAdmin("Only conversation admin can update settings")
    for key in ("allow_member_add", "allow_member_rename"):
        if changes.get(key) is not None:
            setattr(conversation, key, bool(changes[key]))
    await ctx.session.flush()
    await _publish_updated(ctx, conversation)
    return conversation.settings


async def list_members(ctx: Ctx, *, conversation_id: int) -> list[dict[str, Any]]:
    conversation, _ = await _member_of(ctx, conversation_id)
    email_of = await consent.email_visibility(ctx)
    return [
        {
            "id": u.id,
            "username": u.username,
            "email": email_of(u),
            "avatar_url": u.avatar_url,
            "role": m.role,
            "is_owner": conversation.created_by == u.id,
        }
        for m, u in await repo.active_members(ctx.session, conversation_id)
    ]


async def add_member(ctx: Ctx, *, conversation_id: int, user_id: int) -> User:
    conversation, member = await _member_of(ctx, conversation_id)
    if conversation.type != "group":
        raise Forbidden("Cannot add members to direct conversations", code="direct_conversation")
    if member.role != "admin" and not conversation.allow_member_add:
        raise NotAdmin("Only conversation admin can add members")
    user = await user_repo.get(ctx.session, user_id)
    if user is None:
        raise UserNotFound()
    if await friend_repo.is_blocked_either_way(ctx.session, ctx.user_id, user_id):
        raise Forbidden("You cannot add this user", code="blocked")
    await consent.check_group_members(
        ctx,
        new_member_ids=[user_id],
        existing_member_ids=await repo.active_member_ids(ctx.session, conversation_id),
    )
    row = await repo.membership(ctx.session, conversation_id, user_id)
    if row is not None and row.left_at is None:
        raise BadRequest("User is already a member", code="already_member")
    now = utcnow()
    if row is None:
        ctx.session.add(
            Member(conversation_id=conversation_id, user_id=user_id, role="member", joined_at=now)
        )
    else:
        row.left_at, row.left_seq, row.role, row.joined_at = None, None, "member", now
    await ctx.session.flush()
    me = await _username(ctx, ctx.user_id)
    await message_service.post_system(
        ctx.session, ctx.outbox, conversation_id, f"{me} added {user.username} to the group"
    )
    event = MemberAdded(
        conversation_id=conversation_id,
        new_user=UserRef(id=user.id, username=user.username),
        added_by=UserRef(id=ctx.user_id, username=me),
        member_ids=await repo.active_member_ids(ctx.session, conversation_id),
    )
    await publish.to_conversation(
        ctx.session, ctx.outbox, conversation_id, event, also_users=[user.id]
    )
    return user


async def remove_member(
    ctx: Ctx, conversation: Conversation, member: Member, *, reason: str, by: int | None = None
) -> None:
    """End a membership; the removed user keeps what was sent before (left_seq)."""
    user = await user_repo.get(ctx.session, member.user_id)
    username = user.username if user else f"user {member.user_id}"
    was_admin = member.role == "admin"
    text = (
        f"{username} left the group"
        if reason == "left"
        else (
            f"{await _username(ctx, by)} removed {username} from the group"
            if by
            else f"{username} was removed"
        )
    )
    # The system message is the last thing the removed member sees.
    await message_service.post_system(ctx.session, ctx.outbox, conversation.id, text)
    await ctx.session.refresh(conversation)
    member.left_at, member.left_seq, member.role = utcnow(), conversation.last_seq, "member"
    await ctx.session.flush()
    if was_admin:
        await _ensure_admin(ctx, conversation)
    event = MemberRemoved(
        conversation_id=conversation.id,
        user=UserRef(id=member.user_id, username=username),
        removed_by=UserRef(id=by, username=await _username(ctx, by)) if by else None,
        reason=reason,
        member_ids=await repo.active_member_ids(ctx.session, conversation.id),
    )
    await publish.to_conversation(
        ctx.session, ctx.outbox, conversation.id, event, also_users=[member.user_id]
    )


async def _ensure_admin(ctx: Ctx, conversation: Conversation) -> None:
    """The last admin leaving hands admin to the oldest remaining member."""
    rows = await repo.active_members(ctx.session, conversation.id)
    if not rows or any(m.role == "admin" for m, _ in rows):
        return
    oldest, user = rows[0]
    oldest.role = "admin"
    await ctx.session.flush()
    await message_service.post_system(
        ctx.session, ctx.outbox, conversation.id, f"{user.username} is now the group admin"
    )
    await _publish_updated(ctx, conversation)


async def kick(ctx: Ctx, *, conversation_id: int, user_id: int) -> None:
    conversation, member = await _member_of(ctx, conversation_id)
    if member.role != "admin":
        raise NotAdmin("Only conversation admin can kick members")
    if user_id == ctx.user_id:
        raise BadRequest("Cannot kick yourself", code="cannot_kick_self")
    target = await repo.active_member(ctx.session, conversation_id, user_id)
    if target is None:
        raise NotFound(MEMBER_NOT_FOUND, code="member_not_found")
    await remove_member(ctx, conversation, target, reason="kicked", by=ctx.user_id)


async def leave(ctx: Ctx, *, conversation_id: int) -> None:
    conversation = await repo.get(ctx.session, conversation_id)
    member = (
        await repo.active_member(ctx.session, conversation_id, ctx.user_id)
        if conversation
        else None
    )
    if conversation is None or member is None or conversation.type != "group":
        raise NotFound("Not a group member", code="not_group_member")
    if conversation.context_type is not None:
        # The host application sets who takes part (integrations/); it would add them back.
        raise Forbidden(
            "This conversation is managed by the host application", code="managed_conversation"
        )
    await remove_member(ctx, conversation, member, reason="left", by=None)


async def transfer_admin(ctx: Ctx, *, conversation_id: int, new_admin_id: int) -> User:
    conversation, member = await _member_of(ctx, conversation_id)
    if conversation.type != "group":
        raise BadRequest(
            "Cannot transfer admin in direct conversations", code="direct_conversation"
        )
    if member.role != "admin":
        raise NotAdmin("Only conversation admin can transfer admin role")
    target = await repo.active_member(ctx.session, conversation_id, new_admin_id)
    if target is None:
        raise NotFound(MEMBER_NOT_FOUND, code="member_not_found")
    user = await user_repo.get(ctx.session, new_admin_id)
    assert user is not None
    if target.user_id != ctx.user_id:
        target.role, member.role = "admin", "member"
        await ctx.session.flush()
        me = await _username(ctx, ctx.user_id)
        await message_service.post_system(
            ctx.session, ctx.outbox, conversation_id, f"{me} made {user.username} the group admin"
        )
        await _publish_updated(ctx, conversation)
    return user
