"""Frames the gateway refuses or cannot serve (PROTOCOL.md "Errors and limits"): each gets an
`error` frame with a protocol code, and the connection stays open and usable afterwards."""

from __future__ import annotations

import json
from typing import Any

from .conftest import Env, connected, recv, recv_until


async def still_open(ws: Any) -> None:
    """The next frame after a ping is its pong: the socket is usable and nothing else came."""
    await ws.send(json.dumps({"type": "ping"}))
    assert (await recv(ws))["type"] == "pong"


class TestAuthFrame:
    async def test_a_token_of_another_user_is_refused_and_the_old_one_kept(self, env: Env) -> None:
        ws = await env.connect(1)
        await connected(ws)
        await ws.send(json.dumps({"type": "auth", "token": env.tokens.token(2, "user2")}))
        error = await recv(ws)
        assert (error["type"], error["code"]) == ("error", "forbidden")
        assert error["detail"] == "Token belongs to another user"
        await still_open(ws)

    async def test_a_fresh_token_of_the_same_user_is_taken_silently(self, env: Env) -> None:
        ws = await env.connect(1)
        await connected(ws)
        await ws.send(json.dumps({"type": "auth", "token": env.tokens.token(1, "user1")}))
        await still_open(ws)  # no error frame in between


class TestBadFrames:
    async def test_an_invalid_send_echoes_its_client_msg_id(self, env: Env) -> None:
        env.chat.add_conversation(9, {1, 2})
        ws = await env.connect(1)
        await connected(ws)
        bad = {"type": "send_message", "conversation_id": "nine", "content": "hi"}
        await ws.send(json.dumps({**bad, "client_msg_id": "c-1"}))
        error = await recv_until(ws, "error")
        assert (error["code"], error["client_msg_id"]) == ("bad_request", "c-1")
        assert any(e["loc"] == ["conversation_id"] for e in error["detail"])
        # An over-long client_msg_id is not echoed back.
        await ws.send(json.dumps({**bad, "client_msg_id": "x" * 65}))
        error = await recv_until(ws, "error")
        assert error["code"] == "bad_request" and "client_msg_id" not in error
        assert env.chat.messages[9] == []
        await still_open(ws)


class TestChatUnavailable:
    async def test_join_while_chat_is_down_then_after_it_is_back(self, env: Env) -> None:
        env.chat.add_conversation(9, {1, 2})
        ws = await env.connect(1)
        await connected(ws)
        env.chat.down = True
        await ws.send(json.dumps({"type": "join_conversation", "conversation_id": 9}))
        error = await recv_until(ws, "error")
        assert error["code"] == "unavailable" and error["retry_after"] > 0
        env.chat.down = False
        await ws.send(json.dumps({"type": "join_conversation", "conversation_id": 9}))
        joined = await recv_until(ws, "joined_conversation")
        assert joined["conversation_id"] == 9

    async def test_mark_read_while_chat_is_down(self, env: Env) -> None:
        env.chat.add_conversation(9, {1, 2})
        ws = await env.connect(1)
        await connected(ws)
        env.chat.down = True
        await ws.send(json.dumps({"type": "mark_read", "conversation_id": 9, "seq": 1}))
        error = await recv_until(ws, "error")
        assert (error["code"], error["conversation_id"]) == ("unavailable", 9)
        assert error["detail"] == "Chat temporarily unavailable"
        env.chat.down = False
        await still_open(ws)

    async def test_mark_read_in_a_conversation_of_others(self, env: Env) -> None:
        env.chat.add_conversation(9, {2, 3})
        ws = await env.connect(1)
        await connected(ws)
        await ws.send(json.dumps({"type": "mark_delivered", "conversation_id": 9, "seq": 1}))
        error = await recv_until(ws, "error")
        assert (error["code"], error["conversation_id"]) == ("not_found", 9)
        assert error["detail"] == "Conversation not found"
        await still_open(ws)
