"""Conversations, members, system messages and receipts (PROTOCOL.md "Conversations")."""

from __future__ import annotations

from parley_common.testing.factories import (
    make_direct,
    make_friends,
    make_group,
    make_user,
    send_message,
)

from .conftest import Chat, StartChat


async def users(chat: Chat, n: int) -> list[int]:
    names = ["alice", "bob", "carol", "dave", "erin", "frank"]
    return [await make_user(chat, i + 1, names[i]) for i in range(n)]


class TestDirect:
    async def test_direct_needs_friendship_and_is_unique(self, chat: Chat) -> None:
        a, b = await users(chat, 2)
        r = await chat.call(
            "POST", "/conversations", a, json={"type": "direct", "member_user_ids": [b]}
        )
        assert (r.status_code, r.json()["detail"]) == (
            403,
            "You can only start direct chats with friends",
        )
        await make_friends(chat, a, b)
        conv = await make_direct(chat, a, b)
        assert conv["type"] == "direct" and conv["name"] is None
        assert conv["private_pair_key"] == "direct:1:2"
        assert conv["member_ids"] == [1, 2]
        assert sorted(m["user"]["id"] for m in conv["members"]) == [1, 2]
        assert {m["role"] for m in conv["members"]} == {"member"}
        assert conv["last_message"] is None and conv["unread_count"] == 0 and conv["last_seq"] == 0
        assert conv["context"] is None and conv["created_at"].endswith(("Z", "+00:00"))
        again = await make_direct(chat, b, a)
        assert again["id"] == conv["id"]
        assert [c["id"] for c in await chat.ok("GET", "/conversations", b)] == [conv["id"]]

    async def test_direct_errors(self, chat: Chat) -> None:
        a, b, c = await users(chat, 3)
        for body in (
            {"type": "direct", "member_user_ids": []},
            {"type": "direct", "member_user_ids": [b, c]},
        ):
            r = await chat.call("POST", "/conversations", a, json=body)
            assert (r.status_code, r.json()["detail"]) == (
                400,
                "Direct conversation requires exactly one other user ID",
            )
        r = await chat.call(
            "POST", "/conversations", a, json={"type": "direct", "member_user_ids": [77]}
        )
        assert (r.status_code, r.json()["detail"]) == (404, "User not found")
        r = await chat.call(
            "POST", "/conversations", a, json={"type": "nope", "member_user_ids": [b]}
        )
        assert r.status_code == 422

    async def test_stranger_dms_setting(self, start_chat: StartChat) -> None:
        chat = await start_chat(allow_stranger_dms=True)
        a, b = await users(chat, 2)
        conv = await make_direct(chat, a, b)
        assert conv["member_ids"] == [1, 2]


class TestGroups:
    async def test_group_lifecycle(self, chat: Chat) -> None:
        a, b, c, d = await users(chat, 4)
        conv = await make_group(chat, a, [b, c], name="Team")
        cid = conv["id"]
        assert (
            conv["type"] == "group" and conv["name"] == "Team" and conv["private_pair_key"] is None
        )
        assert conv["settings"] == {"allow_member_add": False, "allow_member_rename": True}
        roles = {m["user"]["id"]: m["role"] for m in conv["members"]}
        assert roles == {1: "admin", 2: "member", 3: "member"}
        same = await chat.ok(
            "POST", "/conversations/groups", a, json={"name": "Other", "member_user_ids": [b]}
        )
        assert same["type"] == "group" and same["id"] != cid

        members = await chat.ok("GET", f"/conversations/{cid}/members", b)
        assert members[0] == {
            "id": 1,
            "username": "alice",
            "email": "alice@example.com",
            "avatar_url": None,
            "role": "admin",
            "is_owner": True,
        }
        # Add: admins only by default.
        r = await chat.call("POST", f"/conversations/{cid}/members", b, json={"user_id": d})
        assert (r.status_code, r.json()["detail"]) == (
            403,
            "Only conversation admin can add members",
        )
        await make_friends(chat, a, d)  # only friends can be put into a group
        out = await chat.ok("POST", f"/conversations/{cid}/members", a, json={"user_id": d})
        assert out["status"] == "success" and out["user"] == {
            "id": 4,
            "username": "dave",
            "email": "dave@example.com",
            "avatar_url": None,
        }
        r = await chat.call("POST", f"/conversations/{cid}/members", a, json={"user_id": d})
        assert (r.status_code, r.json()["detail"]) == (400, "User is already a member")
        r = await chat.call("POST", f"/conversations/{cid}/members", a, json={"user_id": 99})
        assert (r.status_code, r.json()["detail"]) == (404, "User not found")

        # Settings: admins only.
        r = await chat.call(
            "PUT", f"/conversations/{cid}/settings", b, json={"allow_member_rename": False}
        )
        assert (r.status_code, r.json()["detail"]) == (
            403,
            "Only conversation admin can update settings",
        )
        out = await chat.ok(
            "PUT", f"/conversations/{cid}/settings", a, json={"allow_member_rename": False}
        )
        assert out["settings"] == {"allow_member_add": False, "allow_member_rename": False}
        assert out["status"] == "success"
        r = await chat.call("PUT", f"/conversations/{cid}", b, json={"name": "Mine"})
        assert r.status_code == 403
        renamed = await chat.ok("PUT", f"/conversations/{cid}", a, json={"name": "Renamed"})
        assert renamed["name"] == "Renamed"

        # Kick.
        r = await chat.call("DELETE", f"/conversations/{cid}/members/{c}", b)
        assert (r.status_code, r.json()["detail"]) == (
            403,
            "Only conversation admin can kick members",
        )
        r = await chat.call("DELETE", f"/conversations/{cid}/members/{a}", a)
        assert (r.status_code, r.json()["detail"]) == (400, "Cannot kick yourself")
        r = await chat.call("DELETE", f"/conversations/{cid}/members/99", a)
        assert (r.status_code, r.json()["detail"]) == (404, "Member not found in this conversation")
        out = await chat.ok("DELETE", f"/conversations/{cid}/members/{c}", a)
        assert out["status"] == "success" and out["message"]
        r = await chat.call("GET", f"/conversations/{cid}", c)
        assert (r.status_code, r.json()["detail"]) == (404, "Conversation not found")

        # Transfer admin.
        r = await chat.call(
            "PUT", f"/conversations/{cid}/transfer-admin", b, json={"new_admin_id": d}
        )
        assert (r.status_code, r.json()["detail"]) == (
            403,
            "Only conversation admin can transfer admin role",
        )
        r = await chat.call(
            "PUT", f"/conversations/{cid}/transfer-admin", a, json={"new_admin_id": c}
        )
        assert r.status_code == 404
        out = await chat.ok(
            "PUT", f"/conversations/{cid}/transfer-admin", a, json={"new_admin_id": b}
        )
        assert out["new_admin"] == {"id": 2, "username": "bob"} and out["status"] == "success"

        # The last admin leaving hands admin to the oldest member (alice, then dave).
        assert await chat.ok("DELETE", f"/conversations/{cid}/leave", b) == {"status": "ok"}
        members = await chat.ok("GET", f"/conversations/{cid}/members", a)
        assert [(m["id"], m["role"]) for m in members] == [(1, "admin"), (4, "member")]
        r = await chat.call("DELETE", f"/conversations/{cid}/leave", b)
        assert (r.status_code, r.json()["detail"]) == (404, "Not a group member")

        history = await chat.ok("GET", f"/messages/conversation/{cid}", a)
        system = [m for m in history if m["type"] == "system"]
        assert all(m["sender_id"] is None and m["sender_username"] == "system" for m in system)
        texts = [m["content"] for m in system]
        assert texts == [
            "alice added dave to the group",
            'alice renamed the group to "Renamed"',
            "alice removed carol from the group",
            "alice made bob the group admin",
            "bob left the group",
            "alice is now the group admin",
        ]
        assert [m["seq"] for m in history] == list(range(1, len(history) + 1))

    async def test_direct_member_ops_refused(self, chat: Chat) -> None:
        a, b, c = await users(chat, 3)
        await make_friends(chat, a, b)
        cid = (await make_direct(chat, a, b))["id"]
        r = await chat.call("POST", f"/conversations/{cid}/members", a, json={"user_id": c})
        assert (r.status_code, r.json()["detail"]) == (
            403,
            "Cannot add members to direct conversations",
        )
        r = await chat.call(
            "PUT", f"/conversations/{cid}/transfer-admin", a, json={"new_admin_id": b}
        )
        assert r.status_code == 400

    async def test_group_create_errors(self, chat: Chat) -> None:
        a, b = await users(chat, 2)
        r = await chat.call(
            "POST", "/conversations", a, json={"type": "group", "member_user_ids": [b]}
        )
        assert r.status_code == 400
        r = await chat.call(
            "POST",
            "/conversations",
            a,
            json={"type": "group", "name": "x", "member_user_ids": [55]},
        )
        assert (r.status_code, r.json()["detail"]) == (404, "User not found")


class TestListing:
    async def test_order_paging_unread(self, chat: Chat) -> None:
        a, b, c = await users(chat, 3)
        g1 = (await make_group(chat, a, [b], name="one"))["id"]
        g2 = (await make_group(chat, a, [b, c], name="two"))["id"]
        g3 = (await make_group(chat, a, [c], name="three"))["id"]
        await send_message(chat, b, g1, "hi from bob")
        await send_message(chat, b, g1, "again")
        await send_message(chat, a, g1, "mine")
        listed = await chat.ok("GET", "/conversations", a)
        assert [c["id"] for c in listed] == [g1, g2, g3]
        one = listed[0]
        assert one["unread_count"] == 2 and one["last_seq"] == 3
        assert one["last_message"]["content"] == "mine" and one["last_message"]["seq"] == 3
        recent = await chat.ok("GET", "/conversations?order=recent", a)
        assert [c["id"] for c in recent] == [g1, g3, g2]
        page = await chat.ok("GET", "/conversations?limit=2", a)
        assert [c["id"] for c in page] == [g2, g3]
        page = await chat.ok("GET", f"/conversations?limit=2&before={g2}", a)
        assert [c["id"] for c in page] == [g1]
        page = await chat.ok("GET", f"/conversations?order=recent&limit=1&before={g1}", a)
        assert [c["id"] for c in page] == [g3]
        assert await chat.ok("GET", "/conversations/unread-count", a) == {
            "total": 2,
            "by_conversation": {str(g1): 2},
        }
        r = await chat.call("GET", "/conversations?limit=0", a)
        assert r.status_code == 422


class TestReceipts:
    async def test_cursors_are_monotonic(self, chat: Chat) -> None:
        a, b = await users(chat, 2)
        cid = (await make_group(chat, a, [b], name="g"))["id"]
        for i in range(3):
            await send_message(chat, a, cid, f"m{i}")
        cur = await chat.ok("POST", f"/conversations/{cid}/read", b, json={"seq": 2})
        assert cur["last_read_seq"] == 2 and cur["read_at"] and cur["user_id"] == b
        cur = await chat.ok("POST", f"/conversations/{cid}/read", b, json={"seq": 1})
        assert cur["last_read_seq"] == 2
        await chat.ok("POST", f"/conversations/{cid}/delivered", b, json={"seq": 3})
        receipts = await chat.ok("GET", f"/conversations/{cid}/receipts", a)
        mine = next(r for r in receipts if r["user_id"] == b)
        assert (mine["last_read_seq"], mine["last_delivered_seq"]) == (2, 3)
        assert set(mine) >= {
            "user_id",
            "last_read_seq",
            "read_at",
            "last_delivered_seq",
            "delivered_at",
        }
        assert (await chat.ok("GET", "/conversations/unread-count", b))["total"] == 1
        r = await chat.call("POST", f"/conversations/{cid}/read", b, json={"seq": -1})
        assert r.status_code == 422
        await chat.settle()
        receipts_events = chat.events.of_type("receipt.updated")
        assert [(e.data["kind"], e.data["seq"]) for _, e in receipts_events] == [
            ("read", 2),
            ("delivered", 3),
        ]


class TestInternal:
    async def test_internal_routes(self, chat: Chat) -> None:
        a, b, c = await users(chat, 3)
        cid = (await make_group(chat, a, [b, c], name="g"))["id"]
        r = await chat.client.get(f"/internal/conversations/{cid}/members")
        assert r.status_code == 403
        assert (await chat.internal(f"/internal/conversations/{cid}/members")).json() == {
            "member_ids": [1, 2, 3]
        }
        assert (await chat.internal(f"/internal/conversations/{cid}/members/2")).json() == {
            "member": True
        }
        assert (await chat.internal("/internal/users/2/conversations")).json() == {
            "conversation_ids": [cid]
        }
        first = await send_message(chat, a, cid, "before")
        await chat.ok("DELETE", f"/conversations/{cid}/members/{b}", a)
        await send_message(chat, a, cid, "after")
        assert (await chat.internal(f"/internal/conversations/{cid}/members/2")).json() == {
            "member": False
        }
        assert (await chat.internal("/internal/users/2/conversations")).json() == {
            "conversation_ids": []
        }
        seen = (
            await chat.internal(f"/internal/conversations/{cid}/messages", params={"user_id": b})
        ).json()
        contents = [m["content"] for m in seen["messages"]]
        assert "before" in contents and "after" not in contents
        after = (
            await chat.internal(
                f"/internal/conversations/{cid}/messages",
                params={"user_id": c, "after_seq": first["seq"]},
            )
        ).json()["messages"]
        assert [m["content"] for m in after][-1] == "after"
        assert all(m["seq"] > first["seq"] for m in after)
        r = await chat.internal(f"/internal/conversations/{cid}/messages", params={"user_id": 99})
        assert r.status_code == 404
