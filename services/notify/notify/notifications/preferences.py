"""Notification preferences: a row per user who changed them, the service defaults otherwise."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Preferences
from .schemas import PreferencesRead, PreferencesUpdate


def defaults(user_id: int) -> Preferences:
    return Preferences(
        user_id=user_id,
        email_missed_messages=True,
        email_delay_seconds=None,
        digest="off",
        muted_conversation_ids=[],
    )


async def get(session: AsyncSession, user_id: int) -> Preferences:
    return await session.get(Preferences, user_id) or defaults(user_id)


async def get_many(session: AsyncSession, user_ids: Iterable[int]) -> dict[int, Preferences]:
    ids = list(user_ids)
    rows = await session.scalars(select(Preferences).where(Preferences.user_id.in_(ids)))
    found = {p.user_id: p for p in rows}
    return {u: found.get(u) or defaults(u) for u in ids}


def delay_seconds(prefs: Preferences, default_seconds: float) -> float:
    return default_seconds if prefs.email_delay_seconds is None else prefs.email_delay_seconds


def to_read(prefs: Preferences, default_delay_seconds: float) -> PreferencesRead:
    return PreferencesRead(
        email_missed_messages=prefs.email_missed_messages,
        email_delay_minutes=delay_seconds(prefs, default_delay_seconds) / 60,
        digest=prefs.digest,
        muted_conversation_ids=sorted(prefs.muted_conversation_ids or []),
    )


async def update(session: AsyncSession, user_id: int, change: PreferencesUpdate) -> Preferences:
    prefs = await session.get(Preferences, user_id, with_for_update=True)
    if prefs is None:
        prefs = defaults(user_id)
        session.add(prefs)
    if change.email_missed_messages is not None:
        prefs.email_missed_messages = change.email_missed_messages
    if change.email_delay_minutes is not None:
        prefs.email_delay_seconds = change.email_delay_minutes * 60
    if change.digest is not None:
        prefs.digest = change.digest
    if change.muted_conversation_ids is not None:
        prefs.muted_conversation_ids = sorted(set(change.muted_conversation_ids))
    await session.flush()
    return prefs
