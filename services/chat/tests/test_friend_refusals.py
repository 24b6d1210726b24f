"""Refusals of the friend and block routes (PROTOCOL.md "Friends and blocks") and of the
gateway's internal batch routes: each answers its status, detail and code and changes nothing."""

from __future__ import annotations

from typing import Any

from parley_common.internal import SERVICE_TOKEN_HEADER
from parley_common.testing.factories import make_direct, make_friends, make_group, make_user
from parley_common.testing.harness import INTERNAL_TOKEN

from .conftest import Chat, refused, snapshot

NO_REQUEST = "Friend request not found"


async def pair(chat: Chat) -> tuple[int, int]:
    return await make_user(chat, 1, "alice"), await make_user(chat, 2, "bob")


class TestFriendRefusals:
    async def test_removing_someone_who_is_not_a_friend(self, chat: Chat) -> None:
        a, b = await pair(chat)
        await chat.ok("POST", "/friends/request", a, json={"username": "bob"})  # pending only
        await chat.settle()
        before = await snapshot(chat)
        for target in (b, 99):
            r = await chat.call("DELETE", f"/friends/{target}", a)
            assert refused(r, 404, "Friend not found", "friend_not_found"), target
        assert await snapshot(chat) == before

    async def test_answering_requests_that_are_not_pending(self, chat: Chat) -> None:
        a, b = await pair(chat)
        await make_friends(chat, a, b)  # the request is accepted now
        await chat.settle()
        before = await snapshot(chat)
        for method, path, who in [
            ("PUT", "/friends/requests/1/accept", b),
            ("PUT", "/friends/requests/1/reject", b),
            ("DELETE", "/friends/requests/1", a),
            ("PUT", "/friends/requests/999/accept", b),
            ("DELETE", "/friends/requests/999", a),
        ]:
            r = await chat.call(method, path, who)
            assert refused(r, 404, NO_REQUEST, "friend_request_not_found"), (method, path)
        assert await snapshot(chat) == before

    async def test_a_sender_chat_does_not_know_yet_is_404(self, chat: Chat) -> None:
        await pair(chat)
        before = await snapshot(chat)
        # A valid token of a user whose user.registered has not reached chat yet.
        r = await chat.call("POST", "/friends/request", 77, json={"username": "bob"})
        assert refused(r, 404, "User not found", "user_not_found"), r.text
        assert await snapshot(chat) == before
        assert await chat.ok("GET", "/friends/requests", 2) == []


class TestBlockRefusals:
    async def test_blocking_twice_changes_nothing_the_second_time(self, chat: Chat) -> None:
        a, b = await pair(chat)
        await make_friends(chat, a, b)
        assert await chat.ok("POST", "/blocks", a, json={"user_id": b}) == {"status": "ok"}
        await chat.settle()
        before = await snapshot(chat)
        assert await chat.ok("POST", "/blocks", a, json={"user_id": b}) == {"status": "ok"}
        assert await snapshot(chat) == before
        await chat.settle()
        assert len(chat.events.of_type("block.created")) == 1
        assert len(chat.events.of_type("friend.removed")) == 2  # one event, both users

    async def test_unblocking_someone_not_blocked(self, chat: Chat) -> None:
        a, b = await pair(chat)
        await chat.ok("POST", "/blocks", b, json={"user_id": a})  # the other direction
        await chat.settle()
        before = await snapshot(chat)
        for target in (b, 99):
            r = await chat.call("DELETE", f"/blocks/{target}", a)
            assert refused(r, 404, "Block not found", "block_not_found"), target
        assert await snapshot(chat) == before
        assert [x["id"] for x in await chat.ok("GET", "/blocks", b)] == [a]


async def internal_post(chat: Chat, path: str, body: dict[str, Any]) -> Any:
    r = await chat.client.post(path, json=body, headers={SERVICE_TOKEN_HEADER: INTERNAL_TOKEN})
    assert r.status_code == 200, r.text
    return r.json()


class TestInternalBatches:
    async def test_each_send_of_a_batch_gets_its_own_result_in_order(self, chat: Chat) -> None:
        a, b = await pair(chat)
        c = await make_user(chat, 3, "carol")
        await make_friends(chat, a, b)
        direct = (await make_direct(chat, a, b))["id"]
        group = (await make_group(chat, a, [b], name="g"))["id"]
        await chat.ok("POST", "/blocks", b, json={"user_id": a})
        await chat.settle()
        before = await snapshot(chat)
        sends = [
            {"sender_id": a, "conversation_id": group, "content": "   "},
            {"sender_id": c, "conversation_id": group, "content": "intruder"},
            {"sender_id": a, "conversation_id": direct, "content": "after the block"},
            {"sender_id": a, "conversation_id": 999, "content": "nowhere"},
        ]
        answer = await internal_post(chat, "/internal/messages", {"sends": sends})
        errors = [(r["error"]["status"], r["error"]["code"]) for r in answer["results"]]
        assert errors == [
            (422, "validation_error"),
            (404, "conversation_not_found"),
            (403, "blocked"),
            (404, "conversation_not_found"),
        ]
        assert answer["results"][1]["error"]["detail"] == "Conversation not found or access denied"
        assert await snapshot(chat) == before

        ok = {"sender_id": b, "conversation_id": group, "content": "hi", "client_msg_id": "m1"}
        answer = await internal_post(chat, "/internal/messages", {"sends": [sends[1], ok, ok]})
        first, second, third = answer["results"]
        assert first["error"]["status"] == 404
        assert second["message"]["content"] == "hi" and second["message"]["seq"] == 1
        assert third["message"]["id"] == second["message"]["id"]  # the retry: the first message

    async def test_socket_setups_of_several_users(self, chat: Chat) -> None:
        a, b = await pair(chat)
        c = await make_user(chat, 3, "carol")
        await make_friends(chat, a, b, c)
        group = (await make_group(chat, b, [a], name="g"))["id"]
        answer = await internal_post(chat, "/internal/users/lookup", {"user_ids": [c, a, 99, a]})
        assert answer == {
            "users": {
                str(a): {"friend_ids": [b, c], "conversation_ids": [group]},
                str(c): {"friend_ids": [a], "conversation_ids": []},
                "99": {"friend_ids": [], "conversation_ids": []},
            }
        }
        assert await internal_post(chat, "/internal/users/lookup", {"user_ids": []}) == {
            "users": {}
        }
        r = await chat.client.post("/internal/users/lookup", json={"user_ids": [a]})
        assert r.status_code == 403
