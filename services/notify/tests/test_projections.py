"""Notify's projections follow chat's events: an ended friendship or membership hides presence
again, a renamed group is named by its new name; and the presence routes' bounds."""

from __future__ import annotations

from parley_common.events import (
    ConversationUpdated,
    FriendRemoved,
    MemberAdded,
    MemberRemoved,
    conv_key,
    user_key,
)
from parley_common.schemas import UserRef
from parley_common.testing.harness import INTERNAL_TOKEN
from parley_common.testing.waiting import wait_for

from .conftest import Notify

INTERNAL = {"X-Parley-Service-Token": INTERNAL_TOKEN}
ALICE, BOB, CAROL, GROUP = 1, 2, 3, 30


async def sees(notify: Notify, viewer: int, user_id: int) -> bool:
    r = await notify.get("/presence", viewer, params={"user_ids": str(user_id)})
    assert r.status_code == 200, r.text
    return str(user_id) in r.json()


class TestVisibilityFollowsEvents:
    async def test_an_ended_friendship_hides_presence(self, notify: Notify) -> None:
        await notify.befriend(ALICE, BOB)
        await wait_for(lambda: sees(notify, BOB, ALICE), message="friendship projected")
        event = FriendRemoved(user_id=ALICE, friend_id=BOB)
        env = await notify.publish(event, [user_key(u, event.EVENT_TYPE) for u in (ALICE, BOB)])
        await notify.wait_processed(env)
        assert not await sees(notify, BOB, ALICE)
        assert not await sees(notify, ALICE, BOB)

    async def test_a_removed_member_no_longer_sees_the_others(self, notify: Notify) -> None:
        await notify.create_group(GROUP, "Team", ALICE, [ALICE, BOB, CAROL])
        await wait_for(lambda: sees(notify, CAROL, ALICE), message="membership projected")
        event = MemberRemoved(
            conversation_id=GROUP,
            user=UserRef(id=CAROL, username="user3"),
            removed_by=UserRef(id=ALICE, username="user1"),
            reason="kicked",
            member_ids=[ALICE, BOB],
        )
        env = await notify.publish(event, [conv_key(GROUP, event.EVENT_TYPE)])
        await notify.wait_processed(env)
        assert not await sees(notify, CAROL, ALICE)
        assert not await sees(notify, ALICE, CAROL)
        assert await sees(notify, BOB, ALICE)  # the others stay co-members


class TestRenamedGroup:
    async def test_someone_added_later_is_told_the_new_name(self, notify: Notify) -> None:
        created = await notify.create_group(GROUP, "Old name", ALICE, [ALICE, BOB])
        await notify.wait_processed(created)
        renamed = ConversationUpdated(
            conversation_id=GROUP, name="New name", type="group", updated_by=ALICE
        )
        env = await notify.publish(renamed, [conv_key(GROUP, renamed.EVENT_TYPE)])
        await notify.wait_processed(env)
        added = MemberAdded(
            conversation_id=GROUP,
            new_user=UserRef(id=CAROL, username="carol"),
            added_by=UserRef(id=ALICE, username="alice"),
            member_ids=[ALICE, BOB, CAROL],
        )
        env = await notify.publish(added, [conv_key(GROUP, added.EVENT_TYPE)])
        await notify.wait_processed(env)
        r = await notify.get("/notifications", CAROL)
        assert [n["title"] for n in r.json()] == ["alice added you to New name"]


class TestPresenceBounds:
    async def test_ids_beyond_int64_or_too_many_are_400(self, notify: Notify) -> None:
        for ids, detail in [
            (str(2**63), "user_ids must be 64-bit integers"),
            (",".join(str(i) for i in range(1, 1002)), "At most 1000 user_ids"),
        ]:
            r = await notify.get("/presence", ALICE, params={"user_ids": ids})
            body = r.json()
            assert (r.status_code, body["detail"], body["code"]) == (
                400,
                detail,
                "invalid_user_ids",
            )

    async def test_internal_lookup_of_many_users(self, notify: Notify) -> None:
        await notify.connected("gw-a", "c1", BOB)
        await notify.heartbeat("gw-a")
        assert notify.http

        async def bob_online() -> bool:
            assert notify.http
            r = await notify.http.post(
                "/internal/presence/lookup", json={"user_ids": [ALICE, BOB]}, headers=INTERNAL
            )
            assert r.status_code == 200, r.text
            states = r.json()
            return set(states) == {"1", "2"} and states["2"]["online"] is True

        await wait_for(bob_online, message="bob online in the lookup")
        r = await notify.http.post(
            "/internal/presence/lookup", json={"user_ids": [0]}, headers=INTERNAL
        )
        assert r.status_code == 422
        r = await notify.http.post("/internal/presence/lookup", json={"user_ids": [ALICE]})
        assert r.status_code == 403
