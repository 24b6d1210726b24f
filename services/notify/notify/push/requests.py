"""What asks for a push: a notification the user's choices allow, and a message for a member
with no open socket (not in a muted conversation, not from someone they blocked). Each becomes
a `push.requested` event in the same transaction, for users who have a device at all."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.events import MessageCreated, PushRequested, envelope, svc_key
from parley_common.outbox import Outbox

from .. import blocks
from ..models import Preferences
from ..notifications import channels, preferences
from . import devices

PREVIEW_CHARS = 200


def conversation_key(conversation_id: int) -> str:
    # A mention and the message it is in share the key: the device shows one of them.
    return f"conversation-{conversation_id}"


async def request_txn(session: AsyncSession, outbox: Outbox, event: PushRequested) -> None:
    env = envelope(event, producer="notify")
    await outbox.add(session, env, [svc_key(PushRequested.EVENT_TYPE)])


async def notification_txn(
    session: AsyncSession,
    outbox: Outbox,
    *,
    prefs: Preferences,
    type_: str,
    title: str,
    body: str,
    link: str | None,
    conversation_id: int | None,
) -> None:
    if not channels.wants(prefs, type_, "push"):
        return
    if not await devices.users_with_devices(session, [prefs.user_id]):
        return
    previews = prefs.push_previews is not False
    await request_txn(
        session,
        outbox,
        PushRequested(
            user_id=prefs.user_id,
            title=title,
            body=body[:PREVIEW_CHARS] if previews else "",
            collapse_key=conversation_key(conversation_id) if conversation_id else type_,
            link=link,
            data={"type": type_},
        ),
    )


async def message_txn(
    session: AsyncSession, outbox: Outbox, event: MessageCreated, *, offline: list[int]
) -> None:
    message = event.message
    with_devices = await devices.users_with_devices(session, offline)
    if not with_devices:
        return
    blocked_sender = await blocks.blockers_of(session, message.sender_id, with_devices)
    prefs = await preferences.get_many(session, with_devices - blocked_sender)
    for user_id, p in sorted(prefs.items()):
        if message.conversation_id in (p.muted_conversation_ids or []):
            continue
        previews = p.push_previews is not False
        await request_txn(
            session,
            outbox,
            PushRequested(
                user_id=user_id,
                title=message.sender_username,
                body=message.content[:PREVIEW_CHARS] if previews else "New message",
                collapse_key=conversation_key(message.conversation_id),
                link=f"/?conversation={message.conversation_id}",
                data={
                    "type": "message",
                    "conversation_id": message.conversation_id,
                    "message_id": message.id,
                    "seq": message.seq,
                },
            ),
        )
