"""Mentions, notifications and emails from a user you blocked are not delivered to you (issue
12, finding 3): notify's block projection, fed by chat's block.created / block.removed."""

from __future__ import annotations

from sqlalchemy import select

from notify.models import Block, EmailItem
from parley_common.events import BlockCreated, BlockRemoved, svc_key
from parley_common.testing.waiting import wait_for

from .conftest import Notify, Observer
from .test_notifications import friend_requested, listed, pushed

ALICE, BOB, CAROL, GROUP = 1, 2, 3, 40


async def block(notify: Notify, blocker: int, blocked: int, *, removed: bool = False) -> None:
    event = (BlockRemoved if removed else BlockCreated)(blocker_id=blocker, blocked_id=blocked)
    env = await notify.publish(event, [svc_key(event.EVENT_TYPE)])
    await notify.wait_processed(env)


class TestBlockedSenders:
    async def test_mention_from_a_blocked_user_is_not_delivered(
        self, notify: Notify, observer: Observer
    ) -> None:
        await block(notify, BOB, ALICE)
        assert await notify.db(select(Block.blocker_id).where(Block.blocked_id == ALICE))
        blocked = await notify.message(
            GROUP, 1, ALICE, [ALICE, BOB, CAROL], "@bob @carol", mentions=[BOB, CAROL]
        )
        await notify.wait_processed(blocked)
        await wait_for(lambda: pushed(observer, CAROL, "mention"), message="carol is told")
        assert pushed(observer, BOB) == [] and await listed(notify, BOB) == []
        # Unblocked: mentions reach bob again.
        await block(notify, BOB, ALICE, removed=True)
        await notify.message(GROUP, 2, ALICE, [ALICE, BOB, CAROL], "@bob", mentions=[BOB])
        await wait_for(lambda: pushed(observer, BOB, "mention"), message="bob told again")

    async def test_friend_request_notification_from_a_blocked_user_is_dropped(
        self, notify: Notify, observer: Observer
    ) -> None:
        await block(notify, BOB, ALICE)
        event = friend_requested(9, ALICE, BOB)
        env = await notify.publish(event, [f"user.{BOB}.friend.requested"])
        await notify.wait_processed(env)
        assert await listed(notify, BOB) == []

    async def test_no_missed_message_email_for_a_blocked_sender(self, notify: Notify) -> None:
        await notify.register(ALICE, "alice")
        await notify.register(BOB, "bob")
        await notify.wait_processed(await notify.create_group(GROUP, "g", ALICE, [ALICE, BOB]))
        await block(notify, BOB, ALICE)
        env = await notify.message(GROUP, 1, ALICE, [ALICE, BOB], "hello", sender_username="alice")
        await notify.wait_processed(env)
        assert await notify.db(select(EmailItem.id).where(EmailItem.user_id == BOB)) == []
