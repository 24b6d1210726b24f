"""Names and addresses of deleted accounts, held back from new accounts for a grace period
(`deleted_username_grace_days`): nobody can take over a deleted user's name or address at once
and pass for them. Only SHA-256 digests of the keys are kept, until they are released."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import insert_for, utcnow

from .models import ReservedIdentity
from .tokens import digest


async def is_reserved(session: AsyncSession, key: str) -> bool:
    found = await session.scalar(
        select(ReservedIdentity.release_at).where(ReservedIdentity.key_hash == digest(key))
    )
    return found is not None and found > utcnow()


async def reserve(session: AsyncSession, keys: list[str], *, until: datetime) -> None:
    rows = [{"key_hash": digest(k), "release_at": until} for k in dict.fromkeys(keys)]
    stmt = insert_for(session)(ReservedIdentity).values(rows)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["key_hash"], set_={"release_at": stmt.excluded.release_at}
        )
    )
