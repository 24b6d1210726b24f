"""Event → frame mapping: which frame each bus event becomes, and for whom.

Audiences come from the event's data, never from the routing key: an event for several
audiences arrives once per routing key with the same id, and only the first copy is handled,
so that copy must reach every audience this replica holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from parley_common import events as ev
from parley_common import frames as fr
from parley_common.events import Envelope


@dataclass(frozen=True, slots=True)
class Audience:
    """Connected users to write to: explicit `users`, the connected members of `conversation`,
    or the connected friends of `friends_of`; minus `exclude`."""

    users: frozenset[int] | None = None
    conversation: int | None = None
    friends_of: int | None = None
    exclude: int | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    frame: fr.Frame
    audience: Audience


def _users(*ids: int) -> Audience:
    return Audience(users=frozenset(ids))


def frames_for(envelope: Envelope) -> list[Outgoing]:
    """The frames an event becomes; [] for events no client sees."""
    builder = _BUILDERS.get(envelope.type)
    if builder is None:
        return []
    model = ev.EVENT_TYPES[envelope.type]
    return builder(envelope.parse(model))


def _message_created(e: ev.MessageCreated) -> list[Outgoing]:
    members = (
        Audience(users=frozenset(e.member_ids))
        if e.member_ids
        else Audience(conversation=e.message.conversation_id)
    )
    return [Outgoing(fr.NewMessageFrame(message=e.message), members)]


def _message_edited(e: ev.MessageEdited) -> list[Outgoing]:
    conv = Audience(conversation=e.message.conversation_id)
    return [Outgoing(fr.MessageEditedFrame(message=e.message), conv)]


def _message_deleted(e: ev.MessageDeleted) -> list[Outgoing]:
    frame = fr.MessageDeletedFrame(conversation_id=e.conversation_id, message_id=e.message_id)
    return [Outgoing(frame, Audience(conversation=e.conversation_id))]


def _reaction_updated(e: ev.ReactionUpdated) -> list[Outgoing]:
    conv = Audience(conversation=e.message.conversation_id)
    return [Outgoing(fr.ReactionUpdatedFrame(message=e.message), conv)]


def _receipt_updated(e: ev.ReceiptUpdated) -> list[Outgoing]:
    frame: fr.Frame
    if e.kind == "read":
        frame = fr.ReadReceiptFrame(
            conversation_id=e.conversation_id, user_id=e.user_id, seq=e.seq, read_at=e.at
        )
    else:
        frame = fr.DeliveryReceiptFrame(
            conversation_id=e.conversation_id, user_id=e.user_id, seq=e.seq
        )
    return [Outgoing(frame, Audience(conversation=e.conversation_id))]


def _typing(e: ev.Typing) -> list[Outgoing]:
    frame = fr.TypingFrame(
        conversation_id=e.conversation_id,
        user_id=e.user_id,
        username=e.username,
        is_typing=e.is_typing,
    )
    return [Outgoing(frame, Audience(conversation=e.conversation_id, exclude=e.user_id))]


def _presence_changes(e: ev.PresenceChanges) -> list[Outgoing]:
    out = []
    for change in e.changes:
        frame: fr.Frame = (
            fr.UserOnlineFrame(user_id=change.user_id)
            if change.online
            else fr.UserOfflineFrame(user_id=change.user_id, last_seen=change.last_seen)
        )
        out.append(Outgoing(frame, Audience(friends_of=change.user_id, exclude=change.user_id)))
    return out


def _conversation_created(e: ev.ConversationCreated) -> list[Outgoing]:
    frame = fr.ConversationCreatedFrame(conversation=e.conversation)
    return [Outgoing(frame, Audience(users=frozenset(e.conversation.member_ids)))]


def _conversation_updated(e: ev.ConversationUpdated) -> list[Outgoing]:
    summary = fr.ConversationSummaryOut(
        id=e.conversation_id, name=e.name, type=e.type, avatar_url=e.avatar_url
    )
    frame = fr.ConversationUpdatedFrame(conversation=summary)
    return [Outgoing(frame, Audience(conversation=e.conversation_id))]


def _member_added(e: ev.MemberAdded) -> list[Outgoing]:
    frame = fr.MemberAddedFrame(
        conversation_id=e.conversation_id, new_user=e.new_user, added_by=e.added_by
    )
    audience = frozenset({*e.member_ids, e.new_user.id})
    return [Outgoing(frame, Audience(users=audience))]


def _member_removed(e: ev.MemberRemoved) -> list[Outgoing]:
    remaining = frozenset(e.member_ids) - {e.user.id}
    kicked = fr.MemberKickedFrame(
        conversation_id=e.conversation_id, kicked_user=e.user, kicked_by=e.removed_by
    )
    if e.reason == "left":
        text = "You left the conversation"
    else:
        by = f" by {e.removed_by.username}" if e.removed_by else ""
        text = f"You were removed from the conversation{by}"
    notice = fr.KickedFromConversationFrame(conversation_id=e.conversation_id, message=text)
    return [Outgoing(kicked, Audience(users=remaining)), Outgoing(notice, _users(e.user.id))]


def _conversation_deleted(e: ev.ConversationDeleted) -> list[Outgoing]:
    frame = fr.ConversationDeletedFrame(conversation_id=e.conversation_id, deleted_by=e.deleted_by)
    return [Outgoing(frame, Audience(users=frozenset(e.member_ids)))]


def _friend_requested(e: ev.FriendRequested) -> list[Outgoing]:
    return [Outgoing(fr.FriendRequestFrame(request=e.request), _users(e.receiver_id))]


def _friend_accepted(e: ev.FriendAccepted) -> list[Outgoing]:
    return [Outgoing(fr.FriendAcceptedFrame(user=e.accepter), _users(e.requester_id))]


def _notification_created(e: ev.NotificationCreated) -> list[Outgoing]:
    frame = fr.NotificationFrame(notification=e.notification)
    return [Outgoing(frame, _users(e.user_id))]


_BUILDERS: dict[str, Callable[[Any], list[Outgoing]]] = {
    "message.created": _message_created,
    "message.edited": _message_edited,
    "message.deleted": _message_deleted,
    "reaction.updated": _reaction_updated,
    "receipt.updated": _receipt_updated,
    "typing": _typing,
    "presence.changes": _presence_changes,
    "conversation.created": _conversation_created,
    "conversation.updated": _conversation_updated,
    "member.added": _member_added,
    "member.removed": _member_removed,
    "conversation.deleted": _conversation_deleted,
    "friend.requested": _friend_requested,
    "friend.accepted": _friend_accepted,
    "notification.created": _notification_created,
}
