from __future__ import annotations

import asyncio
import json
import secrets
import socket
import uuid

import pytest
from websockets.exceptions import ConnectionClosed

from gateway.runtime import gateway_of
from parley_common.events import (
    EventData,
    PresenceChanged,
    PresenceChanges,
    SessionRevoked,
    envelope,
    gateways_key,
    user_key,
)
from parley_common.testing.waiting import wait_for

from .conftest import Env, close_code, connected, gateway_env, recv, recv_until


async def publish(env: Env, key: str, data: EventData, event_id: uuid.UUID | None = None) -> None:
    e = envelope(data, producer="test", event_id=event_id)
    await env.bus.publish(key, e.model_dump_json().encode())


class TestSendMessage:
    async def test_ack_and_new_message_to_every_socket_of_every_member(self, env: Env) -> None:
        env.chat.add_conversation(10, {1, 2})
        a1, a2, b = await env.connect(1), await env.connect(1), await env.connect(2)
        outsider = await env.connect(3)
        for ws in (a1, a2, b, outsider):
            await connected(ws)
        await a1.send(
            json.dumps(
                {
                    "type": "send_message",
                    "conversation_id": 10,
                    "content": "hi",
                    "client_msg_id": "c-1",
                }
            )
        )
        # The sender gets both, in either order (the event may overtake chat's answer).
        first, second = await recv(a1), await recv(a1)
        by_type = {first["type"]: first, second["type"]: second}
        ack = by_type["ack"]
        assert ack["client_msg_id"] == "c-1" and ack["message"]["content"] == "hi"
        assert by_type["new_message"]["message"]["seq"] == 1
        for ws in (a2, b):
            frame = await recv_until(ws, "new_message")
            assert frame["message"]["seq"] == 1 and frame["message"]["conversation_id"] == 10
        await outsider.send(json.dumps({"type": "ping"}))
        assert (await recv(outsider))["type"] == "pong"  # nothing else arrived before it

    async def test_non_member_cannot_send_join_or_mark_read(self, env: Env) -> None:
        env.chat.add_conversation(10, {1, 2})
        ws = await env.connect(3)
        await connected(ws)
        await ws.send(
            json.dumps(
                {
                    "type": "send_message",
                    "conversation_id": 10,
                    "content": "x",
                    "client_msg_id": "m",
                }
            )
        )
        error = await recv(ws)
        assert error["type"] == "error" and error["code"] == "not_found"
        assert error["client_msg_id"] == "m"
        await ws.send(json.dumps({"type": "join_conversation", "conversation_id": 10}))
        assert (await recv(ws))["code"] == "not_found"
        await ws.send(json.dumps({"type": "mark_read", "conversation_id": 10, "seq": 1}))
        assert (await recv(ws))["code"] == "not_found"
        await ws.send(json.dumps({"type": "typing", "conversation_id": 10, "is_typing": True}))
        assert (await recv(ws))["code"] == "not_found"
        assert env.chat.messages[10] == []

    async def test_chat_down_gives_unavailable(self, env: Env) -> None:
        env.chat.add_conversation(10, {1})
        ws = await env.connect(1)
        await connected(ws)
        env.chat.down = True
        await ws.send(
            json.dumps(
                {
                    "type": "send_message",
                    "conversation_id": 10,
                    "content": "x",
                    "client_msg_id": "m",
                }
            )
        )
        error = await recv(ws)
        assert error["code"] == "unavailable" and error["retry_after"] > 0
        assert error["client_msg_id"] == "m"

    async def test_flood_is_rate_limited(self, env: Env) -> None:
        env.chat.add_conversation(10, {1})
        ws = await env.connect(1)
        await connected(ws)
        for i in range(30):
            await ws.send(
                json.dumps(
                    {
                        "type": "send_message",
                        "conversation_id": 10,
                        "content": "x",
                        "client_msg_id": f"m{i}",
                    }
                )
            )
        limited = await recv_until(ws, "error")
        assert limited["code"] == "rate_limited" and limited["retry_after"] > 0


class TestJoinTypingReceipts:
    async def test_join_viewers_typing_and_read_receipt(self) -> None:
        async with gateway_env(typing_timeout=0.3) as env:
            env.chat.add_conversation(10, {1, 2})
            a, b = await env.connect(1), await env.connect(2)
            await connected(a)
            await connected(b)
            await a.send(json.dumps({"type": "join_conversation", "conversation_id": 10}))
            assert await recv(a) == {"type": "joined_conversation", "conversation_id": 10}
            assert await recv(a) == {"type": "viewers", "conversation_id": 10, "user_ids": [1]}
            await b.send(json.dumps({"type": "typing", "conversation_id": 10, "is_typing": True}))
            typing = await recv_until(a, "typing")
            assert typing == {
                "type": "typing",
                "conversation_id": 10,
                "user_id": 2,
                "username": "user2",
                "is_typing": True,
            }
            stopped = await recv_until(a, "typing", timeout=3)
            assert stopped["is_typing"] is False
            await b.send(json.dumps({"type": "mark_read", "conversation_id": 10, "seq": 3}))
            receipt = await recv_until(a, "read_receipt")
            assert receipt["user_id"] == 2 and receipt["seq"] == 3 and receipt["read_at"]
            await a.send(json.dumps({"type": "leave_conversation", "conversation_id": 10}))
            assert await recv_until(a, "left_conversation") == {
                "type": "left_conversation",
                "conversation_id": 10,
            }


class TestResume:
    async def test_replays_missed_messages_in_order_then_resumed(self, env: Env) -> None:
        env.chat.add_conversation(10, {1})
        env.chat.add_conversation(11, {1})
        for i in range(250):
            env.chat.store_message(10, 2, f"m{i}")
        env.chat.store_message(11, 2, "other")
        ws = await env.connect(1)
        await connected(ws)
        await ws.send(json.dumps({"type": "resume", "cursors": {"10": 5, "11": 1}}))
        seqs = []
        while True:
            frame = await recv(ws)
            if frame["type"] == "resumed":
                break
            assert frame["type"] == "new_message"
            assert frame["message"]["conversation_id"] == 10
            seqs.append(frame["message"]["seq"])
        assert seqs == list(range(6, 251))

    async def test_gap_too_large_gets_resync_required(self) -> None:
        async with gateway_env(resume_max_messages=20, resume_page_size=10) as env:
            env.chat.add_conversation(10, {1})
            for i in range(50):
                env.chat.store_message(10, 2, f"m{i}")
            ws = await env.connect(1)
            await connected(ws)
            await ws.send(json.dumps({"type": "resume", "cursors": {"10": 0}}))
            assert await recv(ws) == {"type": "resync_required", "conversation_id": 10}
            assert await recv(ws) == {"type": "resumed"}

    async def test_non_member_resume_gets_error(self, env: Env) -> None:
        env.chat.add_conversation(10, {2})
        env.chat.store_message(10, 2, "secret")
        ws = await env.connect(1)
        await connected(ws)
        await ws.send(json.dumps({"type": "resume", "cursors": {"10": 0}}))
        error = await recv(ws)
        assert error["type"] == "error" and error["code"] == "not_found"
        assert await recv(ws) == {"type": "resumed"}


class TestEvents:
    async def test_duplicate_event_ids_delivered_once(self, env: Env) -> None:
        env.chat.friends[1] = {9}
        ws = await env.connect(1)
        await connected(ws)
        event_id = uuid.uuid4()
        data = PresenceChanges(changes=[PresenceChanged(user_id=9, online=True, last_seen=None)])
        await publish(env, gateways_key(data.EVENT_TYPE), data, event_id)
        await publish(env, gateways_key(data.EVENT_TYPE), data, event_id)
        assert await recv(ws) == {"type": "user_online", "user_id": 9}
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}

    async def test_presence_changes_reach_friends_only(self, env: Env) -> None:
        env.chat.friends[1] = {9}
        friend, stranger = await env.connect(1), await env.connect(2)
        await connected(friend)
        await connected(stranger)
        data = PresenceChanges(
            changes=[
                PresenceChanged(user_id=9, online=True, last_seen=None),
                PresenceChanged(user_id=8, online=True, last_seen=None),
            ]
        )
        await publish(env, gateways_key(data.EVENT_TYPE), data)
        assert await recv(friend) == {"type": "user_online", "user_id": 9}
        for ws in (friend, stranger):
            await ws.send(json.dumps({"type": "ping"}))
            assert await recv(ws) == {"type": "pong"}  # nothing else arrived before it

    async def test_session_revoked_closes_that_session_only(self, env: Env) -> None:
        ws_a = await env.connect(1, claims={"sid": "s-a"})
        ws_b = await env.connect(1, claims={"sid": "s-b"})
        await connected(ws_a)
        await connected(ws_b)
        await publish(env, user_key(1, "session.revoked"), SessionRevoked(user_id=1, sid="s-a"))
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws_a)
        assert close_code(closed.value) == 4001
        await ws_b.send(json.dumps({"type": "ping"}))
        assert await recv(ws_b) == {"type": "pong"}

    async def test_member_added_rebinds_conversation(self, env: Env) -> None:
        from parley_common.events import MemberAdded

        env.chat.add_conversation(10, {2})
        ws = await env.connect(1)
        await connected(ws)
        env.chat.members[10].add(1)
        added = MemberAdded.model_validate(
            {
                "conversation_id": 10,
                "new_user": {"id": 1, "username": "user1"},
                "added_by": {"id": 2, "username": "user2"},
                "member_ids": [1, 2],
            }
        )
        await publish(env, user_key(1, "member.added"), added)
        frame = await recv_until(ws, "member_added")
        assert frame["new_user"]["id"] == 1
        message = env.chat.store_message(10, 2, "welcome")
        await env.chat.publish_created(message)
        assert (await recv_until(ws, "new_message"))["message"]["content"] == "welcome"

    async def test_slow_reader_closed_4008_others_keep_receiving(self) -> None:
        async with gateway_env(ws_send_queue_size=4) as env:
            env.chat.add_conversation(10, {1, 2})
            # A small fixed receive buffer (no autotuning): the kernel stops absorbing early.
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", env.server.port))
            slow = await env.connect(1, max_queue=1, max_size=None, sock=sock)
            fast = await env.connect(2, max_size=None)
            await connected(slow)
            await connected(fast)
            big = secrets.token_urlsafe(150_000)  # incompressible: permessage-deflate is on
            gateway = gateway_of(env.server.app.state)
            assert gateway is not None  # the server has started
            registry = gateway.registry

            def slow_closed() -> bool:
                return any(c.close_code == 4008 for c in registry.of_user(1))

            # Publish in step with the fast reader: it never falls behind; the slow one does.
            for _ in range(200):
                await env.chat.publish_created(env.chat.store_message(10, 3, big))
                assert (await recv_until(fast, "new_message"))["message"]["content"] == big
                if slow_closed():
                    break
            await wait_for(slow_closed, message="slow socket closed")
            await env.chat.publish_created(env.chat.store_message(10, 3, "after"))
            assert (await recv_until(fast, "new_message"))["message"]["content"] == "after"
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(slow.recv(), 10)
            assert close_code(closed.value) == 4008
