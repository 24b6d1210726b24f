"""Notification preferences: a row per user who changed them, the service defaults otherwise."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import insert_for

from ..models import Preferences
from . import channels
from .schemas import ChannelChoice, PreferencesRead, PreferencesUpdate


def defaults(user_id: int) -> Preferences:
    return Preferences(
        user_id=user_id,
        email_missed_messages=True,
        email_delay_seconds=None,
        digest="off",
        muted_conversation_ids=[],
        channels=None,
        push_previews=None,
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
        channels={t: ChannelChoice(**c) for t, c in channels.listed(prefs).items()},
        push_previews=prefs.push_previews is not False,
    )


async def update(session: AsyncSession, user_id: int, change: PreferencesUpdate) -> Preferences:
    # The user's first change creates the row. Two first changes at once would both find no
    # row and both insert it (one failing on the primary key): the defaults go in with ON
    # CONFLICT DO NOTHING first, then the row is locked, so the second waits for the first.
    row = defaults(user_id)
    await session.execute(
        insert_for(session)(Preferences)
        .values(
            user_id=user_id,
            email_missed_messages=row.email_missed_messages,
            email_delay_seconds=row.email_delay_seconds,
            digest=row.digest,
            muted_conversation_ids=row.muted_conversation_ids,
        )
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    prefs = await session.get(Preferences, user_id, with_for_update=True, populate_existing=True)
    assert prefs is not None  # inserted above or already there
    if change.email_missed_messages is not None:
        prefs.email_missed_messages = change.email_missed_messages
    if change.email_delay_minutes is not None:
        prefs.email_delay_seconds = change.email_delay_minutes * 60
    if change.digest is not None:
        prefs.digest = change.digest
    if change.muted_conversation_ids is not None:
        prefs.muted_conversation_ids = sorted(set(change.muted_conversation_ids))
    if change.push_previews is not None:
        prefs.push_previews = change.push_previews
    if change.channels is not None:
        prefs.channels = channels.merged(
            prefs.channels,
            {t: c.model_dump(exclude_unset=True) for t, c in change.channels.items()},
        )
    await session.flush()
    return prefs
