"""The integration API: conversations bound to a host product's objects, whose participants the
host sets, and system messages (payment, dispute, job update, ...) from the host's backend."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from parley_common.db import utcnow
from parley_common.errors import NotFound
from parley_common.events import (
    ConversationCreated,
    ConversationUpdated,
    MemberAdded,
    MemberRemoved,
)
from parley_common.schemas import ConversationRead, MessageRead, UserRef

from .. import publish
from .. import users as user_repo
from ..conversations import repository as conv_repo
from ..conversations import views as conv_views
from ..errors import BadRequest, UserNotFound, ValidationFailed
from ..messages import service as message_service
from ..messages import views as message_views
from ..models import Conversation, Member, User
from . import repository as repo
from .deps import IntegrationCtx

# Context conversations have no human admin: every participant is a plain member, and the host
# is the only one who changes participants, title and metadata (see docs/integrations.md).
PARTICIPANT_ROLE = "member"


class ContextNotFound(NotFound):
    code, detail = "context_not_found", "Context not found"


async def get_context(
    ctx: IntegrationCtx, *, context_type: str, context_id: str
) -> ConversationRead:
    conversation = await repo.by_context(ctx.session, context_type, context_id)
    if conversation is None:
        raise ContextNotFound()
    return await conv_views.to_read(ctx.session, conversation, None)


async def put_context(
    ctx: IntegrationCtx,
    *,
    context_type: str,
    context_id: str,
    title: str,
    participant_user_ids: list[int],
    metadata: dict[str, Any],
) -> ConversationRead:
    """Create the context's conversation once, then make it match the body; a repeat of the same
    body changes nothing and publishes nothing."""
    title = title.strip()
    if not title or len(title) > 200:
        raise BadRequest("Title must be 1-200 characters", code="invalid_title")
    wanted = sorted(set(participant_user_ids))
    users = await user_repo.get_many(ctx.session, wanted)
    if any(u not in users for u in wanted):
        raise UserNotFound()
    conversation = await repo.by_context(ctx.session, context_type, context_id, lock=True)
    if conversation is None:
        created = await _create(
            ctx,
            context_type,
            context_id,
            title=title,
            users=[users[u] for u in wanted],
            metadata=metadata,
        )
        if created is not None:
            return created
        # A concurrent first PUT created it: make that one match this body.
        conversation = await repo.by_context(ctx.session, context_type, context_id, lock=True)
        assert conversation is not None
    await _update(ctx, conversation, title=title, metadata=metadata)
    current = set(await conv_repo.active_member_ids(ctx.session, conversation.id))
    # Removals first, so a removed participant never sees who replaced them.
    for user_id in sorted(current - set(wanted)):
        await _remove(ctx, conversation, user_id)
    for user_id in sorted(set(wanted) - current):
        await _add(ctx, conversation, users[user_id])
    await ctx.session.refresh(conversation)
    return await conv_views.to_read(ctx.session, conversation, None)


async def _create(
    ctx: IntegrationCtx,
    context_type: str,
    context_id: str,
    *,
    title: str,
    users: list[User],
    metadata: dict[str, Any],
) -> ConversationRead | None:
    """The new conversation, or None when a concurrent call created it first."""
    now = utcnow()
    conversation = Conversation(
        type="group",
        name=title,
        private_pair_key=None,
        created_by=None,
        created_at=now,
        last_activity_at=now,
        last_seq=0,
        allow_member_add=False,
        allow_member_rename=False,
        context_type=context_type,
        context_id=context_id,
        context_metadata=metadata,
    )
    try:
        async with ctx.session.begin_nested():
            ctx.session.add(conversation)
            await ctx.session.flush()
            for user in users:
                ctx.session.add(
                    Member(
                        conversation_id=conversation.id,
                        user_id=user.id,
                        role=PARTICIPANT_ROLE,
                        joined_at=now,
                    )
                )
            await ctx.session.flush()
    except IntegrityError:
        return None
    read = await conv_views.to_read(ctx.session, conversation, None)
    await publish.to_users(
        ctx.session,
        ctx.outbox,
        read.member_ids,
        ConversationCreated(conversation=read, created_by=None),
    )
    return read


async def _update(
    ctx: IntegrationCtx, conversation: Conversation, *, title: str, metadata: dict[str, Any]
) -> None:
    changed = False
    if title != conversation.name:
        conversation.name = title
        await ctx.session.flush()
        await message_service.post_system(
            ctx.session, ctx.outbox, conversation.id, f'The group was renamed to "{title}"'
        )
        changed = True
    if metadata != (conversation.context_metadata or {}):
        conversation.context_metadata = metadata
        await ctx.session.flush()
        changed = True
    if changed:
        event = ConversationUpdated(
            conversation_id=conversation.id, name=title, type="group", updated_by=None
        )
        await publish.to_conversation(ctx.session, ctx.outbox, conversation.id, event)


async def _add(ctx: IntegrationCtx, conversation: Conversation, user: User) -> None:
    row = await conv_repo.membership(ctx.session, conversation.id, user.id)
    now = utcnow()
    if row is None:
        ctx.session.add(
            Member(
                conversation_id=conversation.id,
                user_id=user.id,
                role=PARTICIPANT_ROLE,
                joined_at=now,
            )
        )
    else:
        row.left_at, row.left_seq, row.role, row.joined_at = None, None, PARTICIPANT_ROLE, now
    await ctx.session.flush()
    await message_service.post_system(
        ctx.session, ctx.outbox, conversation.id, f"{user.username} was added to the group"
    )
    event = MemberAdded(
        conversation_id=conversation.id,
        new_user=UserRef(id=user.id, username=user.username),
        added_by=None,
        member_ids=await conv_repo.active_member_ids(ctx.session, conversation.id),
    )
    await publish.to_conversation(
        ctx.session, ctx.outbox, conversation.id, event, also_users=[user.id]
    )


async def _remove(ctx: IntegrationCtx, conversation: Conversation, user_id: int) -> None:
    """End a membership; as for a kick, the removal notice is the last message they may see."""
    member = await conv_repo.active_member(ctx.session, conversation.id, user_id)
    assert member is not None
    user = await user_repo.get(ctx.session, user_id)
    username = user.username if user else f"user {user_id}"
    await message_service.post_system(
        ctx.session, ctx.outbox, conversation.id, f"{username} was removed from the group"
    )
    await ctx.session.refresh(conversation)
    member.left_at, member.left_seq = utcnow(), conversation.last_seq
    await ctx.session.flush()
    event = MemberRemoved(
        conversation_id=conversation.id,
        user=UserRef(id=user_id, username=username),
        removed_by=None,
        reason="context",
        member_ids=await conv_repo.active_member_ids(ctx.session, conversation.id),
    )
    await publish.to_conversation(
        ctx.session, ctx.outbox, conversation.id, event, also_users=[user_id]
    )


async def post_message(
    ctx: IntegrationCtx,
    *,
    context_type: str,
    context_id: str,
    kind: str,
    content: str,
    metadata: dict[str, Any],
    idempotency_key: str | None,
) -> MessageRead:
    """A system message in the context's conversation; a known idempotency_key returns the first."""
    if not content.strip():
        raise ValidationFailed("content", "Message content must not be empty", content)
    if len(content.strip()) > ctx.settings.max_message_length:
        raise ValidationFailed(
            "content",
            f"Message content must be at most {ctx.settings.max_message_length} characters",
        )
    conversation = await repo.by_context(ctx.session, context_type, context_id)
    if conversation is None:
        raise ContextNotFound()
    if idempotency_key:
        existing = await repo.system_message_by_key(ctx.session, conversation.id, idempotency_key)
        if existing is not None:
            return await message_views.to_read_one(ctx.session, existing)
    try:
        async with ctx.session.begin_nested():
            return await message_service.post_system(
                ctx.session,
                ctx.outbox,
                conversation.id,
                content,
                kind=kind,
                metadata=metadata,
                client_msg_id=idempotency_key or None,
            )
    except IntegrityError:
        # A concurrent retry with the same key won (its seq increment was undone with ours).
        assert idempotency_key
        existing = await repo.system_message_by_key(ctx.session, conversation.id, idempotency_key)
        if existing is None:
            raise
        return await message_views.to_read_one(ctx.session, existing)
