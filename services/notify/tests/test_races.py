"""Concurrent writers on PostgreSQL: first preference writes, read cursors."""

from __future__ import annotations

import asyncio

from sqlalchemy import select, text

from notify import read_cursors
from notify.models import Preferences, ReadCursor
from notify.runtime import notify_runtime
from parley_common.testing.waiting import wait_for

from .conftest import Notify

ALICE, GROUP = 1, 20


async def lock_waits(notify: Notify) -> bool:
    rows = await notify.db(
        text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
    )
    return bool(rows[0][0])


async def test_two_first_preference_writes_at_once_both_succeed(notify: Notify) -> None:
    async def put(user_id: int, body: dict[str, object]) -> int:
        r = await notify.request("PUT", "/notifications/preferences", user_id, json=body)
        return r.status_code

    for user_id in range(100, 110):  # each round races on a new user: no row exists yet
        statuses = await asyncio.gather(
            put(user_id, {"digest": "daily"}), put(user_id, {"email_delay_minutes": 3})
        )
        assert list(statuses) == [200, 200]
        prefs = (await notify.get("/notifications/preferences", user_id)).json()
        # Both changes hold: the second writer waited for the first and changed its row.
        assert prefs["digest"] == "daily" and prefs["email_delay_minutes"] == 3
    rows = await notify.db(select(Preferences.user_id))
    assert sorted(r[0] for r in rows) == list(range(100, 110))


async def test_read_cursor_never_moves_backwards(notify: Notify) -> None:
    """Two receipts race on a cursor that does not exist yet: the newer (seq 9) commits first
    while the older (seq 3) already waits on its row; the cursor stays at 9."""
    sessionmaker = notify_runtime(notify.app.state).sessionmaker
    async with sessionmaker() as newer, sessionmaker() as older:
        await read_cursors.advance_txn(newer, user_id=ALICE, conversation_id=GROUP, seq=9)
        waiting = asyncio.create_task(
            read_cursors.advance_txn(older, user_id=ALICE, conversation_id=GROUP, seq=3)
        )
        await wait_for(lambda: lock_waits(notify), message="the older writer waits on the row")
        await newer.commit()
        await waiting
        await older.commit()
    rows = await notify.db(select(ReadCursor.last_read_seq).where(ReadCursor.user_id == ALICE))
    assert [r[0] for r in rows] == [9]

    async with sessionmaker() as session:  # and an older receipt alone changes nothing either
        await read_cursors.advance_txn(session, user_id=ALICE, conversation_id=GROUP, seq=5)
        await session.commit()
    rows = await notify.db(select(ReadCursor.last_read_seq).where(ReadCursor.user_id == ALICE))
    assert [r[0] for r in rows] == [9]
