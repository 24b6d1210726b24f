"""`user.deleted` (issue 17): notify keeps nothing about the user (presence, preferences,
notifications, pending emails, devices, cursors, projections) and names them "Deleted user" in
the others' notifications; redelivery changes nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from notify.models import (
    Block,
    Device,
    EmailItem,
    Friendship,
    Membership,
    Notification,
    PendingEmail,
    Preferences,
    ReadCursor,
    User,
)
from notify.runtime import notify_runtime
from parley_common.events import BlockCreated, UserDeleted, svc_key

from .conftest import Notify, now

ALICE, BOB, CAROL, GROUP = 1, 2, 3, 30


async def rows_of_alice(notify: Notify) -> dict[str, int]:
    """How many rows of each table name or concern alice."""
    checks: list[tuple[Any, Any]] = [
        (User, User.id == ALICE),
        (Friendship, or_(Friendship.user_low == ALICE, Friendship.user_high == ALICE)),
        (Block, or_(Block.blocker_id == ALICE, Block.blocked_id == ALICE)),
        (Membership, Membership.user_id == ALICE),
        (ReadCursor, ReadCursor.user_id == ALICE),
        (Notification, Notification.user_id == ALICE),
        (Preferences, Preferences.user_id == ALICE),
        (PendingEmail, PendingEmail.user_id == ALICE),
        (EmailItem, EmailItem.user_id == ALICE),
        (Device, Device.user_id == ALICE),
    ]
    return {
        model.__tablename__: len(await notify.db(select(model).where(where)))
        for model, where in checks
    }


async def test_everything_about_the_user_goes_and_others_see_deleted_user(
    notify: Notify,
) -> None:
    for uid in (ALICE, BOB, CAROL):
        await notify.register(uid, f"user{uid}")  # the names the harness's events carry
    await notify.befriend(ALICE, BOB)
    block = BlockCreated(blocker_id=CAROL, blocked_id=ALICE)
    await notify.publish(block, [svc_key(block.EVENT_TYPE)])
    await notify.create_group(GROUP, "trip", ALICE, [ALICE, BOB, CAROL])
    await notify.connected("gw1", "c1", ALICE)
    r = await notify.request("PUT", "/notifications/preferences", ALICE, json={"digest": "daily"})
    assert r.status_code == 200, r.text
    # bob mentioned by alice; alice (offline from here) misses bob's message.
    await notify.message(GROUP, 1, ALICE, [ALICE, BOB, CAROL], "hey @bob", mentions=[BOB])
    await notify.disconnected("gw1", "c1", ALICE)
    await notify.message(
        GROUP, 2, BOB, [ALICE, BOB, CAROL], "@alice where are you", mentions=[ALICE]
    )
    last = await notify.read(ALICE, GROUP, 1)
    await notify.wait_processed(last)
    async with notify_runtime(notify.app.state).sessionmaker() as session:
        session.add(Device(user_id=ALICE, sid="s1", platform="fcm", token="alice-phone"))
        await session.commit()
    before = await rows_of_alice(notify)
    assert all(before[name] for name in ("users", "friendships", "blocks", "notifications"))
    assert before["pending_emails"] and before["devices"] and before["read_cursors"]

    deleted = await notify.publish(
        UserDeleted(user_id=ALICE, deleted_at=now()), [svc_key(UserDeleted.EVENT_TYPE)]
    )
    await notify.wait_processed(deleted)

    after = await rows_of_alice(notify)
    assert after == {**{name: 0 for name in after}, "users": 1}
    ((tomb,),) = await notify.db(select(User).where(User.id == ALICE))
    assert (tomb.username, tomb.email, tomb.email_verified) == ("Deleted user", "", False)
    r = await notify.get("/notifications", BOB)
    titles = [n["title"] for n in r.json()]
    assert titles == ["Deleted user mentioned you", "Deleted user added you to trip"], titles
    assert "user1" not in r.text
    store = notify_runtime(notify.app.state).store
    assert not [k async for k in store.scan_iter(match=f"*:{ALICE}")]

    # Redelivered (same id: the inbox drops it; a new id: the tombstone stops it).
    await notify.publish_envelope(deleted, [svc_key(UserDeleted.EVENT_TYPE)])
    again = await notify.publish(
        UserDeleted(user_id=ALICE, deleted_at=now()), [svc_key(UserDeleted.EVENT_TYPE)]
    )
    await notify.wait_processed(again)
    assert await rows_of_alice(notify) == after
