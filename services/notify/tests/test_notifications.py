"""In-app notifications: created from events once, pushed on the bus, and the owner's API."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from parley_common.events import FriendRequested, MemberAdded, MessageCreated, user_key
from parley_common.metrics import EVENTS_CONSUMED
from parley_common.schemas import FriendRequestRead, MessageRead, UserPublic, UserRef
from parley_common.testing.waiting import wait_for

from .conftest import Notify, Observer

ALICE, BOB, CAROL, GROUP = 1, 2, 3, 20


def pushed(observer: Observer, user_id: int, type_: str | None = None) -> list[dict[str, Any]]:
    return [
        env.data["notification"]
        for key, env in observer.of_type("notification.created")
        if key == f"user.{user_id}.notification.created"
        and (type_ is None or env.data["notification"]["type"] == type_)
    ]


async def listed(notify: Notify, user_id: int, **params: Any) -> list[dict[str, Any]]:
    r = await notify.get("/notifications", user_id, params=params)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()
    return items


def pushed_count(observer: Observer, user_id: int, count: int) -> bool:
    # A function, not a lambda over the loop variable: wait_for gets it bound by partial.
    return len(pushed(observer, user_id)) == count


def friend_requested(request_id: int, requester: int, receiver: int) -> FriendRequested:
    return FriendRequested(
        request=FriendRequestRead(
            id=request_id,
            requester=UserPublic(id=requester, username=f"user{requester}", email="x@example.com"),
            created_at="2026-01-01T00:00:00Z",
        ),
        receiver_id=receiver,
    )


def duplicates() -> float:
    return sum(
        sample.value
        for metric in EVENTS_CONSUMED.collect()
        for sample in metric.samples
        if sample.labels.get("result") == "duplicate" and sample.labels.get("service") == "notify"
    )


def without_channels(prefs: dict[str, Any]) -> dict[str, Any]:
    """The preferences of PROTOCOL.md's base (per-type channels and push previews are tested
    on their own)."""
    return {k: v for k, v in prefs.items() if k not in ("channels", "push_previews")}


class TestNotificationsFromEvents:
    async def test_each_event_creates_exactly_one_notification(
        self, notify: Notify, observer: Observer
    ) -> None:
        # friend request: published for both users with one event id
        event = friend_requested(7, ALICE, BOB)
        await notify.publish(
            event, [user_key(ALICE, event.EVENT_TYPE), user_key(BOB, event.EVENT_TYPE)]
        )
        # accept: bob accepted alice's request -> alice (the requester) is told
        await notify.befriend(ALICE, BOB)
        # added to a group: conversation and the new member, one event id
        added = MemberAdded(
            conversation_id=GROUP,
            new_user=UserRef(id=CAROL, username="carol"),
            added_by=UserRef(id=ALICE, username="alice"),
            member_ids=[ALICE, BOB, CAROL],
        )
        await notify.publish(
            added, [f"conv.{GROUP}.member.added", user_key(CAROL, added.EVENT_TYPE)]
        )
        # mention
        await notify.message(
            GROUP, 1, ALICE, [ALICE, BOB, CAROL], "hey @bob", mentions=[BOB, ALICE]
        )

        await wait_for(lambda: len(pushed(observer, BOB)) == 2, message="bob's two notifications")
        await wait_for(lambda: len(pushed(observer, ALICE)) == 1, message="alice's")
        await wait_for(lambda: len(pushed(observer, CAROL)) == 1, message="carol's")
        assert {n["type"] for n in pushed(observer, BOB)} == {"friend_request", "mention"}
        assert [n["type"] for n in pushed(observer, ALICE)] == ["friend_accepted"]
        (carols,) = pushed(observer, CAROL)
        assert carols["type"] == "added_to_group" and "alice" in carols["title"]

        bobs = await listed(notify, BOB)
        assert [n["type"] for n in bobs] == ["mention", "friend_request"]  # newest first
        mention = bobs[0]
        assert mention["body"] == "hey @bob" and mention["is_read"] is False
        assert mention["data"]["conversation_id"] == GROUP and mention["link"]
        assert set(mention) == {
            "id",
            "type",
            "title",
            "body",
            "link",
            "is_read",
            "created_at",
            "data",
        }
        assert {n["id"] for n in bobs} == {n["id"] for n in pushed(observer, BOB)}
        assert len(await listed(notify, ALICE)) == 1 and len(await listed(notify, CAROL)) == 1

    async def test_creator_of_a_group_is_not_told_they_joined(
        self, notify: Notify, observer: Observer
    ) -> None:
        env = await notify.create_group(GROUP, "Team", ALICE, [ALICE, BOB])
        # chat may also announce the same addition as member.added: still one notification
        added = MemberAdded(
            conversation_id=GROUP,
            new_user=UserRef(id=BOB, username="bob"),
            added_by=UserRef(id=ALICE, username="alice"),
            member_ids=[ALICE, BOB],
        )
        await notify.publish(added, [f"conv.{GROUP}.member.added", user_key(BOB, added.EVENT_TYPE)])
        self_join = MemberAdded(
            conversation_id=GROUP,
            new_user=UserRef(id=ALICE, username="alice"),
            added_by=UserRef(id=ALICE, username="alice"),
            member_ids=[ALICE, BOB],
        )
        last = await notify.publish(self_join, [f"conv.{GROUP}.member.added"])
        await notify.wait_processed(env)
        await notify.wait_processed(last)
        await wait_for(lambda: pushed(observer, BOB), message="bob told")
        assert [n["type"] for n in await listed(notify, BOB)] == ["added_to_group"]
        assert await listed(notify, ALICE) == []

    async def test_events_delivered_twice_are_processed_once(
        self, notify: Notify, observer: Observer
    ) -> None:
        before = duplicates()
        env = await notify.message(GROUP, 1, ALICE, [ALICE, BOB], "@bob twice", mentions=[BOB])
        await notify.publish_envelope(env, [f"conv.{GROUP}.message.created"])
        await wait_for(lambda: duplicates() >= before + 1, message="the copy dropped")
        await wait_for(lambda: pushed(observer, BOB), message="pushed")
        assert len(await listed(notify, BOB)) == 1
        assert len(pushed(observer, BOB)) == 1


class TestNotificationApi:
    async def seed(self, notify: Notify, observer: Observer) -> list[dict[str, Any]]:
        for seq in (1, 2, 3):  # one at a time: the consumer may handle a batch in any order
            await notify.message(GROUP, seq, ALICE, [ALICE, BOB], f"@bob {seq}", mentions=[BOB])
            await wait_for(partial(pushed_count, observer, BOB, seq), message=f"mention {seq}")
        await notify.message(GROUP, 4, BOB, [ALICE, BOB], "@alice", mentions=[ALICE])
        await wait_for(
            lambda: len(pushed(observer, BOB)) == 3 and pushed(observer, ALICE), message="seeded"
        )
        return await listed(notify, BOB)

    async def test_read_read_all_delete_and_paging(
        self, notify: Notify, observer: Observer
    ) -> None:
        bobs = await self.seed(notify, observer)
        assert [n["body"] for n in bobs] == ["@bob 3", "@bob 2", "@bob 1"]
        page = await listed(notify, BOB, limit=2)
        assert [n["id"] for n in page] == [bobs[0]["id"], bobs[1]["id"]]
        rest = await listed(notify, BOB, limit=2, before=page[-1]["id"])
        assert [n["id"] for n in rest] == [bobs[2]["id"]]

        r = await notify.get("/notifications/unread-count", BOB)
        assert r.json() == {"count": 3, "by_type": {"mention": 3}}
        r = await notify.request("POST", f"/notifications/{bobs[1]['id']}/read", BOB)
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        assert (await notify.get("/notifications/unread-count", BOB)).json() == {
            "count": 2,
            "by_type": {"mention": 2},
        }
        unread = await listed(notify, BOB, unread_only="true")
        assert [n["id"] for n in unread] == [bobs[0]["id"], bobs[2]["id"]]

        r = await notify.request("POST", "/notifications/read-all", BOB)
        assert r.json() == {"status": "ok"}
        assert (await notify.get("/notifications/unread-count", BOB)).json() == {
            "count": 0,
            "by_type": {},
        }
        assert (await notify.get("/notifications/unread-count", ALICE)).json()["count"] == 1

        r = await notify.request("DELETE", f"/notifications/{bobs[0]['id']}", BOB)
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        assert [n["id"] for n in await listed(notify, BOB)] == [bobs[1]["id"], bobs[2]["id"]]
        r = await notify.request("DELETE", f"/notifications/{bobs[0]['id']}", BOB)
        assert r.status_code == 404

    async def test_reading_the_conversation_marks_mentions_read(
        self, notify: Notify, observer: Observer
    ) -> None:
        await self.seed(notify, observer)
        await notify.wait_processed(await notify.read(BOB, GROUP, 2))
        unread = await listed(notify, BOB, unread_only="true")
        assert [n["body"] for n in unread] == ["@bob 3"]

    async def test_nobody_sees_or_changes_another_users_notifications(
        self, notify: Notify, observer: Observer
    ) -> None:
        await self.seed(notify, observer)
        (alices,) = await listed(notify, ALICE)
        for method, path in (
            ("POST", f"/notifications/{alices['id']}/read"),
            ("DELETE", f"/notifications/{alices['id']}"),
        ):
            r = await notify.request(method, path, BOB)
            assert r.status_code == 404 and r.json()["detail"] == "Notification not found"
        assert all(n["id"] != alices["id"] for n in await listed(notify, BOB))
        await notify.request("POST", "/notifications/read-all", BOB)
        (still,) = await listed(notify, ALICE)
        assert still == alices and still["is_read"] is False

    async def test_routes_need_a_token(self, notify: Notify) -> None:
        assert notify.http
        for method, path in (
            ("GET", "/notifications"),
            ("GET", "/notifications/unread-count"),
            ("POST", "/notifications/read-all"),
            ("DELETE", "/notifications/1"),
            ("GET", "/notifications/preferences"),
        ):
            r = await notify.http.request(method, path)
            assert r.status_code == 401 and r.json()["detail"] == "Not authenticated"
        r = await notify.http.get("/notifications", headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401 and r.json()["detail"] == "Could not validate credentials"

    async def test_preferences_defaults_and_validation(self, notify: Notify) -> None:
        r = await notify.get("/notifications/preferences", BOB)
        assert without_channels(r.json()) == {
            "email_missed_messages": True,
            "email_delay_minutes": 1 / 60,
            "digest": "off",
            "muted_conversation_ids": [],
        }
        r = await notify.request(
            "PUT", "/notifications/preferences", BOB, json={"digest": "weekly"}
        )
        assert r.status_code == 422
        r = await notify.request(
            "PUT",
            "/notifications/preferences",
            BOB,
            json={"digest": "daily", "email_delay_minutes": 10},
        )
        assert r.json()["digest"] == "daily" and r.json()["email_delay_minutes"] == 10
        assert (await notify.get("/notifications/preferences", BOB)).json()["digest"] == "daily"


class TestIntegrationNotifications:
    async def test_payment_and_dispute_messages_notify_every_participant(
        self, notify: Notify, observer: Observer
    ) -> None:
        def system(seq: int, kind: str) -> MessageCreated:
            message = MessageRead(
                id=GROUP * 10_000 + seq,
                conversation_id=GROUP,
                seq=seq,
                sender_id=None,
                sender_username="system",
                content=f"{kind} {seq}",
                type="system",
                kind=kind,
                metadata={"amount": 40},
                created_at=datetime.now(UTC),
            )
            return MessageCreated(message=message, member_ids=[ALICE, BOB])

        key = f"conv.{GROUP}.message.created"
        for seq, kind in ((1, "job_update"), (2, "payment"), (3, "dispute")):
            env = await notify.publish(system(seq, kind), [key])
            await notify.wait_processed(env)

        for user_id in (ALICE, BOB):
            await wait_for(partial(pushed_count, observer, user_id, 2), message="pushed")
            listed_ = await listed(notify, user_id)
            assert [(n["type"], n["title"]) for n in listed_] == [
                ("integration", "Dispute update"),
                ("integration", "Payment update"),
            ]
            payment = listed_[1]
            assert payment["body"] == "payment 2" and payment["link"]
            assert payment["data"]["kind"] == "payment"
            assert payment["data"]["metadata"] == {"amount": 40}
