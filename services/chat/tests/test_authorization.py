"""Every conversation and message route refuses outsiders and blocked users, and changes nothing."""

from __future__ import annotations

from typing import Any

from parley_common.testing.factories import (
    make_direct,
    make_friends,
    make_group,
    make_user,
    send_message,
)

from .conftest import Chat, snapshot

DENIED = "Conversation not found or access denied"


def routes(
    cid: int, mid: int, target: int
) -> list[tuple[str, str, dict[str, Any] | None, int, str]]:
    """(method, path, body, status, detail) as a non-member must see them."""
    return [
        ("GET", f"/conversations/{cid}", None, 404, "Conversation not found"),
        ("PUT", f"/conversations/{cid}", {"name": "x"}, 404, DENIED),
        ("PUT", f"/conversations/{cid}/settings", {"allow_member_add": True}, 404, DENIED),
        ("GET", f"/conversations/{cid}/members", None, 404, DENIED),
        ("POST", f"/conversations/{cid}/members", {"user_id": target}, 404, DENIED),
        ("DELETE", f"/conversations/{cid}/members/{target}", None, 404, DENIED),
        ("DELETE", f"/conversations/{cid}/leave", None, 404, "Not a group member"),
        ("PUT", f"/conversations/{cid}/transfer-admin", {"new_admin_id": target}, 404, DENIED),
        ("POST", f"/conversations/{cid}/read", {"seq": 1}, 404, DENIED),
        ("POST", f"/conversations/{cid}/delivered", {"seq": 1}, 404, DENIED),
        ("GET", f"/conversations/{cid}/receipts", None, 404, DENIED),
        ("GET", f"/conversations/{cid}/messages", None, 404, DENIED),
        ("GET", f"/messages/conversation/{cid}", None, 404, DENIED),
        ("POST", "/messages", {"conversation_id": cid, "content": "intrude"}, 404, DENIED),
        ("GET", f"/messages/search?q=secret&conversation_id={cid}", None, 404, DENIED),
        ("PATCH", f"/messages/{mid}", {"content": "x"}, 404, "Message not found"),
        ("DELETE", f"/messages/{mid}", None, 404, "Message not found"),
        ("PUT", f"/messages/{mid}/reactions/x", None, 404, "Message not found"),
        ("DELETE", f"/messages/{mid}/reactions/x", None, 404, "Message not found"),
    ]


class TestOutsiders:
    async def test_non_member_and_removed_member(self, chat: Chat) -> None:
        a, b, c, d = [
            await make_user(chat, i, n)
            for i, n in ((1, "alice"), (2, "bob"), (3, "carol"), (4, "dave"))
        ]
        cid = (await make_group(chat, a, [b, c], name="g"))["id"]
        mid = (await send_message(chat, a, cid, "secret plans"))["id"]
        await chat.ok("PUT", f"/messages/{mid}/reactions/x", b)
        await chat.ok("DELETE", f"/conversations/{cid}/members/{c}", a)  # c: a removed member
        await chat.settle()
        before = await snapshot(chat)
        for outsider in (d, c):
            for method, path, body, status, detail in routes(cid, mid, b):
                r = await chat.call(method, path, outsider, json=body)
                assert (r.status_code, r.json()["detail"]) == (status, detail), (
                    outsider,
                    method,
                    path,
                )
            assert await chat.ok("GET", "/messages/search?q=secret", outsider) == []
            assert cid not in [x["id"] for x in await chat.ok("GET", "/conversations", outsider)]
        assert await snapshot(chat) == before


class TestBlocked:
    async def test_blocked_user_in_direct_chat(self, chat: Chat) -> None:
        a, b = await make_user(chat, 1, "alice"), await make_user(chat, 2, "bob")
        await make_friends(chat, a, b)
        cid = (await make_direct(chat, a, b))["id"]
        mine = await send_message(chat, b, cid, "before the block")
        await chat.ok("POST", "/blocks", a, json={"user_id": b})
        await chat.settle()
        before = await snapshot(chat)
        blocked = "You cannot message this user"
        cases = [
            ("POST", "/messages", {"conversation_id": cid, "content": "x"}, 403, blocked),
            ("PATCH", f"/messages/{mine['id']}", {"content": "edit"}, 403, blocked),
            ("PUT", f"/messages/{mine['id']}/reactions/x", None, 403, blocked),
            ("POST", "/conversations", {"type": "direct", "member_user_ids": [a]}, 403, blocked),
            (
                "POST",
                f"/conversations/{cid}/members",
                {"user_id": a},
                403,
                "Cannot add members to direct conversations",
            ),
            (
                "POST",
                "/friends/request",
                {"username": "alice"},
                403,
                "You cannot send a friend request to this user",
            ),
        ]
        for method, path, body, status, detail in cases:
            for who in (b, a):  # the blocked user, and the blocker too: a block works both ways
                if who == a and (path == "/friends/request" or method == "PATCH"):
                    continue  # not the blocker's request to make / not the blocker's message
                if path == "/conversations" and who == a:
                    body = {"type": "direct", "member_user_ids": [b]}
                r = await chat.call(method, path, who, json=body)
                assert (r.status_code, r.json()["detail"]) == (status, detail), (who, method, path)
        assert await snapshot(chat) == before
        # Reading the history stays possible.
        assert len(await chat.ok("GET", f"/messages/conversation/{cid}", b)) == 1
