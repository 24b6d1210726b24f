"""Consent (issue 12, finding 3): only a user's friends can put that user into a group, never
next to someone either of them blocked; emails only for the user and their friends."""

from __future__ import annotations

import httpx

from parley_common.testing.factories import make_friends, make_group, make_user

from .conftest import Chat

NOT_FRIENDS = "You can only add your friends to a group"


async def people(chat: Chat, n: int) -> list[int]:
    return [await make_user(chat, i, f"user{i}") for i in range(1, n + 1)]


def denied(r: httpx.Response, detail: str) -> bool:
    if r.status_code != 403:
        return False
    got: str = r.json()["detail"]
    return got == detail


class TestOnlyFriendsJoinGroups:
    async def test_strangers_cannot_be_put_into_a_new_group(self, chat: Chat) -> None:
        a, b, stranger = await people(chat, 3)
        await make_friends(chat, a, b)
        for path, body in [
            ("/conversations/groups", {"name": "g", "member_user_ids": [b, stranger]}),
            ("/conversations", {"type": "group", "name": "g", "member_user_ids": [stranger]}),
        ]:
            r = await chat.call("POST", path, a, json=body)
            assert denied(r, NOT_FRIENDS), r.text
        assert await chat.ok("GET", "/conversations", stranger) == []
        ok = await chat.ok(
            "POST", "/conversations/groups", a, json={"name": "g", "member_user_ids": [b]}
        )
        assert ok["member_ids"] == [a, b]

    async def test_strangers_cannot_be_added_later_even_where_members_may_add(
        self, chat: Chat
    ) -> None:
        a, b, stranger = await people(chat, 3)
        group = await make_group(chat, a, [b])
        await chat.ok(
            "PUT", f"/conversations/{group['id']}/settings", a, json={"allow_member_add": True}
        )
        for adder in (a, b):
            r = await chat.call(
                "POST", f"/conversations/{group['id']}/members", adder, json={"user_id": stranger}
            )
            assert denied(r, NOT_FRIENDS), r.text
        await make_friends(chat, b, stranger)
        await chat.ok(
            "POST", f"/conversations/{group['id']}/members", b, json={"user_id": stranger}
        )

    async def test_a_third_party_cannot_join_a_blocker_and_the_blocked(self, chat: Chat) -> None:
        blocker, blocked, third = await people(chat, 3)
        await make_friends(chat, third, blocker)
        await make_friends(chat, third, blocked)
        await chat.ok("POST", "/blocks", blocker, json={"user_id": blocked})
        r = await chat.call(
            "POST",
            "/conversations/groups",
            third,
            json={"name": "g", "member_user_ids": [blocker, blocked]},
        )
        assert denied(r, "You cannot add this user"), r.text
        group = await make_group(chat, third, [blocker])
        r = await chat.call(
            "POST", f"/conversations/{group['id']}/members", third, json={"user_id": blocked}
        )
        assert denied(r, "You cannot add this user"), r.text
        assert [
            m["id"] for m in await chat.ok("GET", f"/conversations/{group['id']}/members", third)
        ] == [third, blocker]


class TestEmailsOnlyForFriends:
    async def test_member_list_shows_emails_of_self_and_friends_only(self, chat: Chat) -> None:
        a, b, c = await people(chat, 3)
        group = await make_group(chat, a, [b, c])  # b and c are friends of a, not of each other
        emails = {
            m["id"]: m["email"]
            for m in await chat.ok("GET", f"/conversations/{group['id']}/members", b)
        }
        assert emails == {a: "user1@example.com", b: "user2@example.com", c: None}

    async def test_friend_requests_and_blocks_hide_the_email(self, chat: Chat) -> None:
        a, b = await people(chat, 2)
        await chat.ok("POST", "/friends/request", a, json={"username": "user2"})
        (request,) = await chat.ok("GET", "/friends/requests", b)
        assert request["requester"]["email"] is None
        await chat.settle()
        (_, event) = chat.events.of_type("friend.requested")[0]
        assert event.data["request"]["requester"]["email"] is None
        await chat.ok("POST", "/blocks", b, json={"user_id": a})
        assert (await chat.ok("GET", "/blocks", b))[0]["email"] is None


class TestBlockEvents:
    async def test_block_and_unblock_are_published_for_services(self, chat: Chat) -> None:
        a, b = await people(chat, 2)
        await chat.ok("POST", "/blocks", a, json={"user_id": b})
        await chat.ok("DELETE", f"/blocks/{b}", a)
        await chat.settle()
        assert chat.events.keys("block.created") == ["svc.block.created"]
        assert chat.events.keys("block.removed") == ["svc.block.removed"]
        (_, created) = chat.events.of_type("block.created")[0]
        assert created.data == {"blocker_id": a, "blocked_id": b}


class TestExistingBlocksAnnounced:
    async def test_migration_publishes_blocks_made_before_the_event_existed(
        self, empty_pg_url: str
    ) -> None:
        from sqlalchemy import text

        from chat.main import MIGRATIONS
        from parley_common.db import create_engine, migrate

        engine = create_engine(empty_pg_url)
        try:
            await migrate(engine, MIGRATIONS, "0002")
            async with engine.begin() as conn:
                for uid in (1, 2):
                    await conn.execute(
                        text(
                            "INSERT INTO users (id, username, username_key, email, created_at,"
                            " updated_at) VALUES (:i, :n, :n, :e, now(), now())"
                        ),
                        {"i": uid, "n": f"u{uid}", "e": f"u{uid}@example.com"},
                    )
                await conn.execute(
                    text(
                        "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (1, 2, now())"
                    )
                )
            await migrate(engine, MIGRATIONS)
            async with engine.connect() as conn:
                rows = (await conn.execute(text("SELECT routing_key, payload FROM outbox"))).all()
            assert [key for key, _ in rows] == ["svc.block.created"]
            assert '"blocker_id":1' in rows[0][1] and '"blocked_id":2' in rows[0][1]
        finally:
            await engine.dispose()
