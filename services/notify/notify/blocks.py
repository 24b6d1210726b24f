"""Who blocked whom, from chat's `block.created` / `block.removed` (routed `svc.block.*`):
mentions, notifications and emails caused by a user never reach someone who blocked them
(ARCHITECTURE.md, Security rules: consent).

Kept apart from events.py: main.py adds these bindings and handlers to notify's consumer.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.consumer import EventHandler
from parley_common.db import insert_for
from parley_common.events import BlockCreated, BlockRemoved, Envelope

from .models import Block

BINDINGS = ["svc.block.*"]


async def block_created(session: AsyncSession, env: Envelope) -> None:
    e = env.parse(BlockCreated)
    stmt = insert_for(session)(Block).values(blocker_id=e.blocker_id, blocked_id=e.blocked_id)
    await session.execute(stmt.on_conflict_do_nothing())


async def block_removed(session: AsyncSession, env: Envelope) -> None:
    e = env.parse(BlockRemoved)
    await session.execute(
        delete(Block).where(Block.blocker_id == e.blocker_id, Block.blocked_id == e.blocked_id)
    )


HANDLERS: dict[str, EventHandler] = {
    BlockCreated.EVENT_TYPE: block_created,
    BlockRemoved.EVENT_TYPE: block_removed,
}


async def blockers_of(
    session: AsyncSession, sender_id: int | None, user_ids: Iterable[int]
) -> set[int]:
    """Those of `user_ids` who blocked `sender_id`."""
    candidates = sorted(set(user_ids))
    if sender_id is None or not candidates:
        return set()
    rows = await session.scalars(
        select(Block.blocker_id).where(
            Block.blocked_id == sender_id, Block.blocker_id.in_(candidates)
        )
    )
    return set(rows)
