"""A user's devices: registered per login session, replaced when a token moves, removed on
logout and when the push service says they are gone."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import utcnow

from ..models import Device


async def register_txn(
    session: AsyncSession,
    *,
    user_id: int,
    sid: str,
    platform: str,
    token: str,
    keys: dict[str, str] | None,
    app_version: str | None,
    max_per_user: int,
) -> Device:
    """The device for this token, now the caller's (a token registered again, even by another
    user on a phone that changed hands, is the same device, not a second one)."""
    device = await session.scalar(
        select(Device).where(Device.platform == platform, Device.token == token).with_for_update()
    )
    if device is None:
        device = Device(platform=platform, token=token)
        session.add(device)
    device.user_id, device.sid, device.keys = user_id, sid, keys
    device.app_version, device.created_at = app_version, utcnow()
    await session.flush()
    # Stale registrations pile up (apps re-register new tokens): the oldest make room.
    older = await session.scalars(
        select(Device.id)
        .where(Device.user_id == user_id)
        .order_by(Device.created_at.desc(), Device.id.desc())
        .offset(max_per_user)
    )
    if stale := list(older):
        await session.execute(delete(Device).where(Device.id.in_(stale)))
    return device


async def of_user(session: AsyncSession, user_id: int) -> Sequence[Device]:
    rows = await session.scalars(
        select(Device).where(Device.user_id == user_id).order_by(Device.id)
    )
    return rows.all()


async def users_with_devices(session: AsyncSession, user_ids: Iterable[int]) -> set[int]:
    ids = list(user_ids)
    if not ids:
        return set()
    rows = await session.scalars(select(Device.user_id).where(Device.user_id.in_(ids)).distinct())
    return set(rows)


async def delete_owned(session: AsyncSession, user_id: int, device_id: int) -> bool:
    result = await session.execute(
        delete(Device).where(Device.id == device_id, Device.user_id == user_id)
    )
    return bool(getattr(result, "rowcount", 0))


async def delete_session_txn(session: AsyncSession, user_id: int, sid: str) -> None:
    """Logged out (or the session was revoked): its devices get nothing more."""
    await session.execute(delete(Device).where(Device.user_id == user_id, Device.sid == sid))


async def delete_gone(session: AsyncSession, device_id: int) -> None:
    await session.execute(delete(Device).where(Device.id == device_id))
