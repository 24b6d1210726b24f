"""Outbox writes for the events chat publishes, with ARCHITECTURE.md's routing keys."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.events import EventData, conv_key, envelope, svc_key, user_key
from parley_common.outbox import Outbox

PRODUCER = "chat"


async def to_conversation(
    session: AsyncSession,
    outbox: Outbox,
    conversation_id: int,
    event: EventData,
    *,
    also_users: Iterable[int] = (),
) -> None:
    """`conv.<id>.<type>`, plus `user.<id>.<type>` for each of `also_users` (same event id)."""
    env = envelope(event, producer=PRODUCER, event_id=uuid.uuid4())
    keys = [conv_key(conversation_id, env.type)] + [user_key(u, env.type) for u in also_users]
    await outbox.add(session, env, keys)


async def to_users(
    session: AsyncSession, outbox: Outbox, user_ids: Iterable[int], event: EventData
) -> None:
    """`user.<id>.<type>` for each user, one event id."""
    env = envelope(event, producer=PRODUCER)
    await outbox.add(session, env, [user_key(u, env.type) for u in user_ids])


async def to_services(session: AsyncSession, outbox: Outbox, event: EventData) -> None:
    """`svc.<type>`: for other services' projections only (no client sees it)."""
    env = envelope(event, producer=PRODUCER)
    await outbox.add(session, env, [svc_key(env.type)])
