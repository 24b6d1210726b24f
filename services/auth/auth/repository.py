"""Queries of the auth service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import like_escaped

from .models import LoginSession, RefreshToken, User


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def user_by_username_key(session: AsyncSession, key: str) -> User | None:
    return await session.scalar(select(User).where(User.username_key == key))


async def user_by_skeleton(session: AsyncSession, skeleton: str) -> User | None:
    return await session.scalar(select(User).where(User.username_skeleton == skeleton))


async def user_by_email_key(session: AsyncSession, key: str) -> User | None:
    return await session.scalar(select(User).where(User.email_key == key))


async def users_by_ids(session: AsyncSession, ids: Sequence[int]) -> Sequence[User]:
    if not ids:
        return []
    return (await session.scalars(select(User).where(User.id.in_(ids)).order_by(User.id))).all()


async def search_users(
    session: AsyncSession, *, prefix_key: str, limit: int, exclude_id: int | None
) -> Sequence[User]:
    query = (
        select(User)
        .where(User.username_key.like(like_escaped(prefix_key) + "%", escape="\\"))
        .where(User.deleted_at.is_(None))
        .order_by(User.username_key, User.id)
        .limit(limit)
    )
    if exclude_id is not None:
        query = query.where(User.id != exclude_id)
    return (await session.scalars(query)).all()


async def get_refresh_token(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    return await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))


async def mark_rotated(session: AsyncSession, token_id: int, now: datetime) -> bool:
    """Atomically retire a refresh token; False when another request already used it."""
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token_id, RefreshToken.rotated_at.is_(None))
        .values(rotated_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def revoke_session(
    session: AsyncSession, session_id: str, *, reason: str, now: datetime
) -> bool:
    """Revoke a login session (refresh family); False when it was already revoked."""
    result = await session.execute(
        update(LoginSession)
        .where(LoginSession.id == session_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason=reason)
    )
    return bool(getattr(result, "rowcount", 0))


async def live_session_ids(session: AsyncSession, user_id: int) -> Sequence[str]:
    return (
        await session.scalars(
            select(LoginSession.id)
            .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
            .order_by(LoginSession.created_at)
        )
    ).all()
