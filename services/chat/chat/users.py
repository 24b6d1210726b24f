"""The users projection: lookups, and the handlers that keep it in step with auth's events."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import insert_for, utcnow
from parley_common.events import Envelope, UserRegistered, UserUpdated

from .models import User


def username_key(username: str) -> str:
    return username.casefold()


async def get(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_by_username(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username_key == username_key(username)))


async def get_many(session: AsyncSession, user_ids: Iterable[int]) -> dict[int, User]:
    ids = set(user_ids)
    if not ids:
        return {}
    rows = await session.scalars(select(User).where(User.id.in_(ids)))
    return {u.id: u for u in rows}


async def upsert(session: AsyncSession, env: Envelope) -> None:
    """Handler for user.registered and user.updated (idempotent: an upsert by id)."""
    data: UserRegistered | UserUpdated = (
        env.parse(UserUpdated) if env.type == "user.updated" else env.parse(UserRegistered)
    )
    values = {
        "username": data.username,
        "username_key": username_key(data.username),
        "email": data.email,
        "updated_at": utcnow(),
    }
    if isinstance(data, UserUpdated):
        values["avatar_url"] = data.avatar_url
    stmt = insert_for(session)(User).values(id=data.user_id, created_at=data.created_at, **values)
    # A deleted user's tombstone stays one, whatever older event of theirs arrives late.
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["id"], set_=values, where=User.deleted_at.is_(None)
        )
    )
