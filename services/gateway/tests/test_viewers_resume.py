"""Viewers with several sockets of one user, and resume when chat refuses a cursor or answers
a page that does not validate (PROTOCOL.md "Client → server": join/leave, resume)."""

from __future__ import annotations

import json
from typing import Any

from .conftest import Env, connected, recv, recv_until


async def send(ws: Any, frame: dict[str, Any]) -> None:
    await ws.send(json.dumps(frame))


async def viewers(ws: Any, user_ids: list[int]) -> None:
    """Frames until the viewers frame with exactly these users (earlier sets may come first)."""
    while True:
        frame = await recv_until(ws, "viewers")
        if frame["user_ids"] == user_ids:
            return


class TestViewers:
    async def test_a_user_views_until_their_last_socket_leaves(self, env: Env) -> None:
        env.chat.add_conversation(10, {1, 2})
        first, second, other = await env.connect(1), await env.connect(1), await env.connect(2)
        for ws in (first, second, other):
            await connected(ws)
        for ws in (first, second, other):
            await send(ws, {"type": "join_conversation", "conversation_id": 10})
            await recv_until(ws, "joined_conversation")
        await viewers(other, [1, 2])
        await send(first, {"type": "leave_conversation", "conversation_id": 10})
        await recv_until(first, "left_conversation")
        # user 1 still views it from the second socket
        assert (await recv_until(other, "viewers"))["user_ids"] == [1, 2]
        # leaving again is answered and changes nothing
        await send(first, {"type": "leave_conversation", "conversation_id": 10})
        assert await recv_until(first, "left_conversation") == {
            "type": "left_conversation",
            "conversation_id": 10,
        }
        await send(second, {"type": "leave_conversation", "conversation_id": 10})
        assert (await recv_until(other, "viewers"))["user_ids"] == [2]

    async def test_joining_twice_from_one_socket_counts_once(self, env: Env) -> None:
        env.chat.add_conversation(10, {1, 2})
        ws, other = await env.connect(1), await env.connect(2)
        await connected(ws)
        await connected(other)
        for _ in range(2):
            await send(ws, {"type": "join_conversation", "conversation_id": 10})
            await recv_until(ws, "joined_conversation")
        await send(other, {"type": "join_conversation", "conversation_id": 10})
        await viewers(other, [1, 2])
        await send(ws, {"type": "leave_conversation", "conversation_id": 10})
        # one leave ends both joins of that socket: the next set has user 2 alone
        assert (await recv_until(other, "viewers"))["user_ids"] == [2]


class TestResumeRefusals:
    async def test_a_conversation_of_others_is_not_found_and_the_rest_replays(
        self, env: Env
    ) -> None:
        env.chat.add_conversation(10, {2, 3})
        env.chat.add_conversation(11, {1, 2})
        env.chat.store_message(10, 2, "not for user 1")
        env.chat.store_message(11, 2, "for user 1")
        ws = await env.connect(1)
        await connected(ws)
        await send(ws, {"type": "resume", "cursors": {"10": 0, "11": 0}})
        error = await recv(ws)
        assert (error["type"], error["code"], error["conversation_id"]) == (
            "error",
            "not_found",
            10,
        )
        replayed = await recv(ws)
        assert replayed["type"] == "new_message"
        assert replayed["message"]["content"] == "for user 1"
        assert (await recv(ws))["type"] == "resumed"

    async def test_a_page_that_does_not_validate_asks_for_a_resync(self, env: Env) -> None:
        env.chat.add_conversation(10, {1, 2})
        env.chat.add_conversation(11, {1, 2})
        env.chat.store_message(10, 2, "fine")
        env.chat.store_message(11, 2, "broken")["created_at"] = "not a time"
        ws = await env.connect(1)
        await connected(ws)
        await send(ws, {"type": "resume", "cursors": {"10": 0, "11": 0}})
        assert (await recv(ws))["message"]["content"] == "fine"
        assert await recv(ws) == {"type": "resync_required", "conversation_id": 11}
        assert (await recv(ws))["type"] == "resumed"

    async def test_chat_down_during_resume(self, env: Env) -> None:
        env.chat.add_conversation(10, {1, 2})
        ws = await env.connect(1)
        await connected(ws)
        env.chat.down = True
        await send(ws, {"type": "resume", "cursors": {"10": 0}})
        error = await recv(ws)
        assert (error["code"], error["conversation_id"]) == ("unavailable", 10)
        assert error["retry_after"] > 0
        assert (await recv(ws))["type"] == "resumed"
