"""Friends and blocks (PROTOCOL.md "Friends and blocks")."""

from __future__ import annotations

import httpx

from parley_common.testing.factories import make_friends, make_group, make_user

from .conftest import Chat, StartChat


class TestFriendRequests:
    async def test_request_accept_list_remove(self, chat: Chat) -> None:
        a, b = await make_user(chat, 1, "alice"), await make_user(chat, 2, "bob")
        r = await chat.call("POST", "/friends/request", a, json={"username": "BOB"})
        assert r.status_code == 200 and r.json() == {"message": "Friend request sent successfully"}
        requests = await chat.ok("GET", "/friends/requests", b)
        assert len(requests) == 1
        req = requests[0]
        # Not friends yet: the requester's email is not shown to the receiver.
        assert req["requester"] == {"id": 1, "username": "alice", "email": None, "avatar_url": None}
        assert req["status"] == "pending" and req["created_at"]
        # Only the receiver may answer.
        r = await chat.call("PUT", f"/friends/requests/{req['id']}/accept", a)
        assert r.status_code == 404 and r.json()["detail"] == "Friend request not found"
        assert await chat.ok("PUT", f"/friends/requests/{req['id']}/accept", b) == {
            "message": "Friend request accepted"
        }
        friends = await chat.ok("GET", "/friends", a)
        assert friends == [
            {
                "id": 2,
                "username": "bob",
                "email": "bob@example.com",
                "avatar_url": None,
                "is_online": False,
            }
        ]
        assert [f["id"] for f in await chat.ok("GET", "/friends", b)] == [1]
        assert (await chat.internal("/internal/users/1/friends")).json() == {"friend_ids": [2]}
        assert await chat.ok("DELETE", "/friends/2", a) == {"status": "ok"}
        assert await chat.ok("GET", "/friends", b) == []

    async def test_request_errors(self, chat: Chat) -> None:
        a, b = await make_user(chat, 1, "alice"), await make_user(chat, 2, "bob")
        cases = [
            ({}, 400, "Username is required"),
            ({"username": ""}, 400, "Username is required"),
            ({"username": "nobody"}, 404, "User not found"),
            ({"username": "alice"}, 400, "Cannot send friend request to yourself"),
        ]
        for body, status, detail in cases:
            r = await chat.call("POST", "/friends/request", a, json=body)
            assert (r.status_code, r.json()["detail"]) == (status, detail), body
        await chat.ok("POST", "/friends/request", a, json={"username": "bob"})
        r = await chat.call("POST", "/friends/request", a, json={"username": "bob"})
        assert (r.status_code, r.json()["detail"]) == (400, "Friend request already sent")
        rid = (await chat.ok("GET", "/friends/requests", b))[0]["id"]
        await chat.ok("PUT", f"/friends/requests/{rid}/accept", b)
        r = await chat.call("POST", "/friends/request", b, json={"username": "alice"})
        assert (r.status_code, r.json()["detail"]) == (400, "Already friends")
        r = await chat.call("POST", "/friends/request", a, json={"username": 5})
        assert r.status_code == 422

    async def test_rerequest_after_rejection(self, chat: Chat) -> None:
        a, b = await make_user(chat, 1, "alice"), await make_user(chat, 2, "bob")
        await chat.ok("POST", "/friends/request", a, json={"username": "bob"})
        rid = (await chat.ok("GET", "/friends/requests", b))[0]["id"]
        assert await chat.ok("PUT", f"/friends/requests/{rid}/reject", b) == {
            "message": "Friend request rejected"
        }
        assert await chat.ok("GET", "/friends/requests", b) == []
        r = await chat.call("POST", "/friends/request", a, json={"username": "bob"})
        assert r.status_code == 200
        assert len(await chat.ok("GET", "/friends/requests", b)) == 1

    async def test_sent_list_and_cancel(self, chat: Chat) -> None:
        a, b = await chat.register(1, "alice"), await chat.register(2, "bob")
        await chat.ok("POST", "/friends/request", a, json={"username": "bob"})
        sent = await chat.ok("GET", "/friends/requests/sent", a)
        assert [(r["receiver"], r["status"]) for r in sent] == [
            ({"id": 2, "username": "bob", "email": None, "avatar_url": None}, "pending")
        ]
        assert await chat.ok("GET", "/friends/requests/sent", b) == []
        rid = sent[0]["id"]
        # Only the sender may withdraw it.
        r = await chat.call("DELETE", f"/friends/requests/{rid}", b)
        assert (r.status_code, r.json()["detail"]) == (404, "Friend request not found")
        assert await chat.ok("DELETE", f"/friends/requests/{rid}", a) == {"status": "ok"}
        assert await chat.ok("GET", "/friends/requests/sent", a) == []
        assert await chat.ok("GET", "/friends/requests", b) == []
        r = await chat.call("PUT", f"/friends/requests/{rid}/accept", b)
        assert r.status_code == 404
        # Withdrawn, it may be sent again.
        await chat.ok("POST", "/friends/request", a, json={"username": "bob"})
        assert len(await chat.ok("GET", "/friends/requests/sent", a)) == 1

    async def test_unauthenticated(self, chat: Chat) -> None:
        r = await chat.call("GET", "/friends")
        assert (r.status_code, r.json()["detail"]) == (401, "Not authenticated")
        r = await chat.call("GET", "/friends", headers={"Authorization": "Bearer nope"})
        assert (r.status_code, r.json()["detail"]) == (401, "Could not validate credentials")


class TestPresence:
    async def test_is_online_from_notify(self, start_chat: StartChat) -> None:
        def presence(request: httpx.Request) -> httpx.Response:
            assert request.url.path == "/internal/presence"
            ids = request.url.params["user_ids"].split(",")
            return httpx.Response(
                200, json={i: {"online": i == "2", "last_seen": None} for i in ids}
            )

        chat = await start_chat(transports={"notify": httpx.MockTransport(presence)})
        for uid, name in ((1, "alice"), (2, "bob"), (3, "carol")):
            await make_user(chat, uid, name)
        await make_friends(chat, 1, 2)
        await make_friends(chat, 3, 1)
        friends = await chat.ok("GET", "/friends", 1)
        assert [(f["id"], f["is_online"]) for f in friends] == [(2, True), (3, False)]

    async def test_notify_down_means_offline(self, start_chat: StartChat) -> None:
        def broken(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused")

        chat = await start_chat(transports={"notify": httpx.MockTransport(broken)})
        await make_user(chat, 1, "alice")
        await make_user(chat, 2, "bob")
        await make_friends(chat, 1, 2)
        assert [f["is_online"] for f in await chat.ok("GET", "/friends", 1)] == [False]


class TestBlocks:
    async def test_block_rules(self, chat: Chat) -> None:
        a, b, c = (
            await make_user(chat, 1, "alice"),
            await make_user(chat, 2, "bob"),
            await make_user(chat, 3, "carol"),
        )
        await make_friends(chat, a, b)
        assert await chat.ok("POST", "/blocks", a, json={"user_id": b}) == {"status": "ok"}
        # Blocking ends the friendship.
        assert await chat.ok("GET", "/friends", a) == []
        blocks = await chat.ok("GET", "/blocks", a)
        assert [(x["id"], x["username"]) for x in blocks] == [(2, "bob")]
        # The blocked user cannot befriend, DM, or add the blocker to a group.
        r = await chat.call("POST", "/friends/request", b, json={"username": "alice"})
        assert r.status_code == 403
        r = await chat.call(
            "POST", "/conversations", b, json={"type": "direct", "member_user_ids": [a]}
        )
        assert (r.status_code, r.json()["detail"]) == (403, "You cannot message this user")
        r = await chat.call(
            "POST",
            "/conversations",
            b,
            json={"type": "group", "name": "g", "member_user_ids": [a, c]},
        )
        assert r.status_code == 403
        group = await make_group(chat, b, [c])
        r = await chat.call("POST", f"/conversations/{group['id']}/members", b, json={"user_id": a})
        assert r.status_code == 403
        r = await chat.call("POST", "/blocks", a, json={"user_id": a})
        assert (r.status_code, r.json()["detail"]) == (400, "Cannot block yourself")
        r = await chat.call("POST", "/blocks", a, json={"user_id": 99})
        assert (r.status_code, r.json()["detail"]) == (404, "User not found")
        r = await chat.call("POST", "/blocks", a, json={})
        assert r.status_code == 422
        assert await chat.ok("DELETE", f"/blocks/{b}", a) == {"status": "ok"}
        assert await chat.ok("GET", "/blocks", a) == []
        await make_friends(chat, b, a)
        assert [f["id"] for f in await chat.ok("GET", "/friends", a)] == [2]
