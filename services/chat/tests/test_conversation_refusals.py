"""Refusals of the conversation and message routes that members meet (PROTOCOL.md
"Conversations", "Messages"): each answers its status, detail text and code, and changes
nothing; the no-op answers (same name, admin to oneself, a second delete) change nothing too."""

from __future__ import annotations

from parley_common.testing.factories import (
    make_direct,
    make_friends,
    make_group,
    make_user,
    send_message,
)

from .conftest import Chat, refused, snapshot


async def users(chat: Chat, n: int) -> list[int]:
    names = ["alice", "bob", "carol", "dave"]
    return [await make_user(chat, i + 1, names[i]) for i in range(n)]


async def system_texts(chat: Chat, user_id: int, conversation_id: int) -> list[str]:
    history = await chat.ok("GET", f"/messages/conversation/{conversation_id}", user_id)
    return [m["content"] for m in history if m["type"] == "system"]


class TestCreateRefusals:
    async def test_group_name_too_long_or_blank(self, chat: Chat) -> None:
        a, b = await users(chat, 2)
        await make_friends(chat, a, b)
        await chat.settle()
        before = await snapshot(chat)
        for name, detail, code in [
            ("x" * 201, "Group name is too long", "name_too_long"),
            ("   ", "Group name is required", "name_required"),
        ]:
            r = await chat.call(
                "POST", "/conversations/groups", a, json={"name": name, "member_user_ids": [b]}
            )
            assert refused(r, 400, detail, code), r.text
        assert await snapshot(chat) == before
        # 200 characters is the limit, not over it.
        group = await make_group(chat, a, [b], name="y" * 200)
        assert group["name"] == "y" * 200

    async def test_a_creator_chat_does_not_know_yet_is_404(self, chat: Chat) -> None:
        # A valid token of a user whose user.registered has not reached chat yet.
        (a,) = await users(chat, 1)
        before = await snapshot(chat)
        for body in (
            {"type": "group", "name": "g", "member_user_ids": []},
            {"type": "group", "name": "g", "member_user_ids": [a]},
        ):
            r = await chat.call("POST", "/conversations", 77, json=body)
            assert refused(r, 404, "User not found", "user_not_found"), r.text
        assert await snapshot(chat) == before


class TestRenameRefusals:
    async def test_direct_chats_cannot_be_renamed(self, chat: Chat) -> None:
        a, b = await users(chat, 2)
        await make_friends(chat, a, b)
        cid = (await make_direct(chat, a, b))["id"]
        await chat.settle()
        before = await snapshot(chat)
        r = await chat.call("PUT", f"/conversations/{cid}", a, json={"name": "ours"})
        assert refused(r, 400, "Cannot rename direct conversations", "direct_conversation")
        assert await snapshot(chat) == before
        assert (await chat.ok("GET", f"/conversations/{cid}", b))["name"] is None

    async def test_blank_or_too_long_name_is_refused(self, chat: Chat) -> None:
        a, b = await users(chat, 2)
        cid = (await make_group(chat, a, [b], name="Team"))["id"]
        await chat.settle()
        before = await snapshot(chat)
        for body in ({"name": "  "}, {"name": "z" * 201}, {}):
            r = await chat.call("PUT", f"/conversations/{cid}", b, json=body)
            assert refused(r, 400, "Group name is required", "name_required"), body
        assert await snapshot(chat) == before

    async def test_members_cannot_rename_once_the_setting_is_off(self, chat: Chat) -> None:
        a, b = await users(chat, 2)
        cid = (await make_group(chat, a, [b], name="Team"))["id"]
        await chat.ok(
            "PUT", f"/conversations/{cid}/settings", a, json={"allow_member_rename": False}
        )
        await chat.settle()
        before = await snapshot(chat)
        r = await chat.call("PUT", f"/conversations/{cid}", b, json={"name": "Mine"})
        assert refused(r, 403, "Only conversation admin can rename the group", "not_admin")
        assert await snapshot(chat) == before

    async def test_the_same_name_again_posts_and_publishes_nothing(self, chat: Chat) -> None:
        a, b = await users(chat, 2)
        cid = (await make_group(chat, a, [b], name="Team"))["id"]
        await chat.settle()
        before = await snapshot(chat)
        same = await chat.ok("PUT", f"/conversations/{cid}", b, json={"name": "  Team "})
        assert same["name"] == "Team" and same["last_seq"] == 0
        assert await snapshot(chat) == before
        assert await system_texts(chat, a, cid) == []


class TestMembershipRefusals:
    async def test_transfer_admin_refusals_and_to_oneself(self, chat: Chat) -> None:
        a, b, c = await users(chat, 3)
        cid = (await make_group(chat, a, [b], name="g"))["id"]
        await chat.settle()
        before = await snapshot(chat)
        r = await chat.call(
            "PUT", f"/conversations/{cid}/transfer-admin", a, json={"new_admin_id": c}
        )
        assert refused(r, 404, "Member not found in this conversation", "member_not_found")
        r = await chat.call(
            "PUT", f"/conversations/{cid}/transfer-admin", b, json={"new_admin_id": b}
        )
        assert refused(r, 403, "Only conversation admin can transfer admin role", "not_admin")
        # To the admin themself: answered, and nothing changes.
        out = await chat.ok(
            "PUT", f"/conversations/{cid}/transfer-admin", a, json={"new_admin_id": a}
        )
        assert out["new_admin"] == {"id": a, "username": "alice"}
        assert await snapshot(chat) == before
        members = await chat.ok("GET", f"/conversations/{cid}/members", b)
        assert [(m["id"], m["role"]) for m in members] == [(a, "admin"), (b, "member")]

    async def test_transfer_admin_in_a_direct_chat(self, chat: Chat) -> None:
        a, b = await users(chat, 2)
        await make_friends(chat, a, b)
        cid = (await make_direct(chat, a, b))["id"]
        await chat.settle()
        before = await snapshot(chat)
        r = await chat.call(
            "PUT", f"/conversations/{cid}/transfer-admin", a, json={"new_admin_id": b}
        )
        assert refused(
            r, 400, "Cannot transfer admin in direct conversations", "direct_conversation"
        )
        r = await chat.call("DELETE", f"/conversations/{cid}/leave", a)
        assert refused(r, 404, "Not a group member", "not_group_member")
        assert await snapshot(chat) == before

    async def test_blocked_user_cannot_be_added_by_the_blocker(self, chat: Chat) -> None:
        a, b, c = await users(chat, 3)
        cid = (await make_group(chat, a, [b], name="g"))["id"]
        await make_friends(chat, a, c)
        await chat.ok("POST", "/blocks", c, json={"user_id": a})  # c blocks a: no longer friends
        await chat.settle()
        before = await snapshot(chat)
        r = await chat.call("POST", f"/conversations/{cid}/members", a, json={"user_id": c})
        assert refused(r, 403, "You cannot add this user", "blocked"), r.text
        assert await snapshot(chat) == before

    async def test_a_removed_member_can_be_added_back(self, chat: Chat) -> None:
        a, b, c = await users(chat, 3)
        cid = (await make_group(chat, a, [b, c], name="g"))["id"]
        await send_message(chat, a, cid, "while c was in")
        await chat.ok("DELETE", f"/conversations/{cid}/members/{c}", a)
        await send_message(chat, a, cid, "while c was out")
        out = await chat.ok("POST", f"/conversations/{cid}/members", a, json={"user_id": c})
        assert out["user"]["id"] == c
        members = await chat.ok("GET", f"/conversations/{cid}/members", c)
        assert [(m["id"], m["role"]) for m in members] == [
            (a, "admin"),
            (b, "member"),
            (c, "member"),
        ]
        assert (await chat.ok("GET", f"/conversations/{cid}", c))["member_ids"] == [a, b, c]
        assert await system_texts(chat, a, cid) == [
            "alice removed carol from the group",
            "alice added carol to the group",
        ]

    async def test_the_last_member_leaving_leaves_no_admin_to_hand_over(self, chat: Chat) -> None:
        (a,) = await users(chat, 1)
        cid = (await make_group(chat, a, [], name="alone"))["id"]
        assert await chat.ok("DELETE", f"/conversations/{cid}/leave", a) == {"status": "ok"}
        assert await chat.ok("GET", "/conversations", a) == []
        assert (await chat.internal(f"/internal/conversations/{cid}/members")).json() == {
            "member_ids": []
        }


class TestMessageRefusals:
    async def test_deleted_messages_cannot_be_edited_or_reacted_to(self, chat: Chat) -> None:
        a, b = await users(chat, 2)
        cid = (await make_group(chat, a, [b], name="g"))["id"]
        mid = (await send_message(chat, a, cid, "oops"))["id"]
        assert await chat.ok("DELETE", f"/messages/{mid}", a) == {"status": "ok"}
        await chat.settle()
        before = await snapshot(chat)
        r = await chat.call("PATCH", f"/messages/{mid}", a, json={"content": "fixed"})
        assert refused(r, 400, "Cannot edit a deleted message", "message_deleted")
        for method in ("PUT", "DELETE"):
            r = await chat.call(method, f"/messages/{mid}/reactions/x", b)
            assert refused(r, 400, "Cannot react to a deleted message", "message_deleted")
        # A second delete is answered and changes nothing (no second message.deleted).
        assert await chat.ok("DELETE", f"/messages/{mid}", a) == {"status": "ok"}
        assert await snapshot(chat) == before

    async def test_only_the_sender_deletes_and_emoji_are_bounded(self, chat: Chat) -> None:
        a, b = await users(chat, 2)
        cid = (await make_group(chat, a, [b], name="g"))["id"]
        mid = (await send_message(chat, a, cid, "mine"))["id"]
        await chat.settle()
        before = await snapshot(chat)
        r = await chat.call("DELETE", f"/messages/{mid}", b)
        assert refused(r, 403, "You can only delete your own messages", "not_sender")
        r = await chat.call("PUT", f"/messages/{mid}/reactions/{'x' * 33}", b)
        assert refused(r, 400, "Invalid emoji", "invalid_emoji")
        r = await chat.call("PUT", f"/messages/{mid + 1000}/reactions/x", b)
        assert refused(r, 404, "Message not found", "message_not_found")
        assert await snapshot(chat) == before
        message = await chat.ok("PUT", f"/messages/{mid}/reactions/{'x' * 32}", b)
        assert message["reactions"] == {"x" * 32: [b]}
