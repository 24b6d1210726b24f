"""Handlers for the events notify consumes from its durable inbox queue `notify.events`.

Each runs once per event id in one transaction (parley_common.consumer). Events sent once per
audience (member.added, conversation.created, friend.*) share an id, so the copy is dropped.
Presence events go to a second queue without the inbox (presence/service.py).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.consumer import EventHandler
from parley_common.events import (
    ConversationCreated,
    ConversationDeleted,
    ConversationUpdated,
    Envelope,
    FriendAccepted,
    FriendRemoved,
    FriendRequested,
    MemberAdded,
    MemberRemoved,
    MessageCreated,
    NotificationRequested,
    ReceiptUpdated,
    SessionRevoked,
    UserDeleted,
    UserRegistered,
    UserUpdated,
)
from parley_common.outbox import Outbox

from . import accounts, projections, read_cursors
from .config import Settings
from .emails import scheduler
from .models import Conversation
from .notifications import repository as notification_repository
from .notifications import service as notification_service
from .notifications import triggers
from .presence.store import PresenceStore
from .push import devices
from .push import requests as push_requests

QUEUE = "notify.events"
BINDINGS = [
    "svc.user.*",
    "conv.*.message.created",
    "conv.*.receipt.updated",
    "conv.*.conversation.updated",
    "conv.*.conversation.deleted",
    "conv.*.member.*",
    "user.*.conversation.created",
    "user.*.friend.*",
    "svc.notification.requested",
    f"user.*.{SessionRevoked.EVENT_TYPE}",
]


class NotifyEvents:
    def __init__(self, *, settings: Settings, outbox: Outbox, presence: PresenceStore) -> None:
        self._settings = settings
        self._outbox = outbox
        self._presence = presence
        # Per batch: the recipients of each message.created who have no open socket, and the
        # messages that create notifications.
        self._offline: dict[uuid.UUID, list[int]] = {}
        self._notifying: set[uuid.UUID] = set()

    async def prepare(self, batch: list[Envelope]) -> None:
        """Before a batch's transaction: who, among the recipients of its messages, is offline
        (one store round trip for the whole batch). Most messages reach only online members
        and then cost notify no database work at all."""
        recipients: dict[uuid.UUID, list[int]] = {}
        notifying: set[uuid.UUID] = set()
        for env in batch:
            if env.type == MessageCreated.EVENT_TYPE:
                e = env.parse(MessageCreated)
                recipients[env.id] = scheduler.recipients(e)
                if triggers.notifies(e):
                    notifying.add(env.id)
        online = await self._presence.online_among(u for ids in recipients.values() for u in ids)
        self._offline = {
            event_id: [u for u in ids if u not in online] for event_id, ids in recipients.items()
        }
        self._notifying = notifying

    def has_work(self, env: Envelope) -> bool:
        """After `prepare`: a message that mentions nobody, notifies nobody and reaches only
        members with an open socket needs nothing from notify (no transaction at all)."""
        if env.type != MessageCreated.EVENT_TYPE or env.id not in self._offline:
            return True
        return bool(self._offline[env.id]) or env.id in self._notifying

    def handlers(self) -> dict[str, EventHandler]:
        return {
            UserRegistered.EVENT_TYPE: self.user_changed,
            UserUpdated.EVENT_TYPE: self.user_changed,
            FriendRequested.EVENT_TYPE: self.friend_requested,
            FriendAccepted.EVENT_TYPE: self.friend_accepted,
            FriendRemoved.EVENT_TYPE: self.friend_removed,
            ConversationCreated.EVENT_TYPE: self.conversation_created,
            ConversationUpdated.EVENT_TYPE: self.conversation_updated,
            MemberAdded.EVENT_TYPE: self.member_added,
            MemberRemoved.EVENT_TYPE: self.member_removed,
            ConversationDeleted.EVENT_TYPE: self.conversation_deleted,
            MessageCreated.EVENT_TYPE: self.message_created,
            ReceiptUpdated.EVENT_TYPE: self.receipt_updated,
            NotificationRequested.EVENT_TYPE: self.notification_requested,
            SessionRevoked.EVENT_TYPE: self.session_revoked,
            UserDeleted.EVENT_TYPE: self.user_deleted,
        }

    async def user_deleted(self, session: AsyncSession, env: Envelope) -> None:
        await accounts.on_user_deleted_txn(session, self._outbox, self._presence, env)

    async def user_changed(self, session: AsyncSession, env: Envelope) -> None:
        e = env.parse(UserRegistered)
        await projections.upsert_user_txn(
            session,
            user_id=e.user_id,
            username=e.username,
            email=e.email,
            email_verified=e.email_verified,
        )

    async def friend_requested(self, session: AsyncSession, env: Envelope) -> None:
        await triggers.on_friend_requested_txn(session, self._outbox, env.parse(FriendRequested))

    async def friend_accepted(self, session: AsyncSession, env: Envelope) -> None:
        e = env.parse(FriendAccepted)
        await projections.add_friendship_txn(session, e.requester_id, e.accepter.id)
        await triggers.on_friend_accepted_txn(session, self._outbox, e)

    async def friend_removed(self, session: AsyncSession, env: Envelope) -> None:
        e = env.parse(FriendRemoved)
        await projections.remove_friendship_txn(session, e.user_id, e.friend_id)

    async def conversation_created(self, session: AsyncSession, env: Envelope) -> None:
        e = env.parse(ConversationCreated)
        c = e.conversation
        await projections.upsert_conversation_txn(
            session, conversation_id=c.id, name=c.name, type_=c.type
        )
        await projections.add_members_txn(session, c.id, c.member_ids)
        await triggers.on_conversation_created_txn(session, self._outbox, e)

    async def conversation_updated(self, session: AsyncSession, env: Envelope) -> None:
        e = env.parse(ConversationUpdated)
        await projections.upsert_conversation_txn(
            session, conversation_id=e.conversation_id, name=e.name, type_=e.type
        )

    async def member_added(self, session: AsyncSession, env: Envelope) -> None:
        e = env.parse(MemberAdded)
        await projections.add_members_txn(
            session, e.conversation_id, [*e.member_ids, e.new_user.id]
        )
        name = await session.scalar(
            select(Conversation.name).where(Conversation.id == e.conversation_id)
        )
        await triggers.on_member_added_txn(session, self._outbox, e, name)

    async def member_removed(self, session: AsyncSession, env: Envelope) -> None:
        e = env.parse(MemberRemoved)
        await projections.remove_member_txn(session, e.conversation_id, e.user.id)
        await scheduler.drop_conversation_txn(
            session, user_id=e.user.id, conversation_id=e.conversation_id
        )

    async def conversation_deleted(self, session: AsyncSession, env: Envelope) -> None:
        e = env.parse(ConversationDeleted)
        for user_id in e.member_ids:
            await projections.remove_member_txn(session, e.conversation_id, user_id)
            await scheduler.drop_conversation_txn(
                session, user_id=user_id, conversation_id=e.conversation_id
            )

    async def message_created(self, session: AsyncSession, env: Envelope) -> None:
        e = env.parse(MessageCreated)
        await triggers.on_message_txn(session, self._outbox, e)
        offline = self._offline.get(env.id)
        if offline is None:  # not prepared (a handler called on its own)
            online = await self._presence.online_among(scheduler.recipients(e))
            offline = [u for u in scheduler.recipients(e) if u not in online]
        await scheduler.on_message_txn(session, e, offline=offline, settings=self._settings)
        await push_requests.message_txn(session, self._outbox, e, offline=offline)

    async def notification_requested(self, session: AsyncSession, env: Envelope) -> None:
        await notification_service.create_host_txn(
            session, self._outbox, env.parse(NotificationRequested)
        )

    async def session_revoked(self, session: AsyncSession, env: Envelope) -> None:
        e = env.parse(SessionRevoked)
        await devices.delete_session_txn(session, e.user_id, e.sid)

    async def receipt_updated(self, session: AsyncSession, env: Envelope) -> None:
        e = env.parse(ReceiptUpdated)
        if e.kind != "read":
            return
        await read_cursors.advance_txn(
            session, user_id=e.user_id, conversation_id=e.conversation_id, seq=e.seq
        )
        await notification_repository.mark_read_up_to_seq(
            session, e.user_id, e.conversation_id, e.seq
        )
        await scheduler.on_read_txn(
            session, user_id=e.user_id, conversation_id=e.conversation_id, seq=e.seq
        )
