"""The highest seq each user has read per conversation, as receipt.updated events report it.

Receipts arrive out of order and concurrently (two devices, two consumer batches), so the
cursor moves in one statement that only ever raises it: a read-then-write would let the later
of two racing writers put an older seq back.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import insert_for

from .models import ReadCursor


async def advance_txn(
    session: AsyncSession, *, user_id: int, conversation_id: int, seq: int
) -> None:
    stmt = insert_for(session)(ReadCursor).values(
        user_id=user_id, conversation_id=conversation_id, last_read_seq=seq
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["user_id", "conversation_id"],
            set_={"last_read_seq": stmt.excluded.last_read_seq},
            where=ReadCursor.last_read_seq < stmt.excluded.last_read_seq,
        )
    )
