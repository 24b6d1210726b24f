"""Every state change is published once, with ARCHITECTURE.md's routing keys, through the outbox
and a real RabbitMQ; a broker outage delays events but never fails a send."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from parley_common.testing.factories import (
    make_direct,
    make_friends,
    make_group,
    make_user,
    send_message,
)
from parley_common.testing.plugin import BusConfig
from parley_common.testing.proxy import TcpProxy
from parley_common.testing.waiting import wait_for

from .conftest import Chat


class TestPublishedEvents:
    async def test_every_change_once_with_routing_keys(self, chat: Chat) -> None:
        a, b, c = (
            await make_user(chat, 1, "alice"),
            await make_user(chat, 2, "bob"),
            await make_user(chat, 3, "carol"),
        )
        await make_friends(chat, a, b)  # friend.requested + friend.accepted
        await make_friends(chat, a, c)  # (only friends can be put into a group)
        direct = (await make_direct(chat, a, b))["id"]  # conversation.created
        group = (await make_group(chat, a, [b], name="g"))["id"]  # conversation.created
        m = await send_message(chat, a, group, "hi")  # message.created
        await chat.ok("PATCH", f"/messages/{m['id']}", a, json={"content": "hey"})  # message.edited
        await chat.ok("PUT", f"/messages/{m['id']}/reactions/x", b)  # reaction.updated
        await chat.ok("DELETE", f"/messages/{m['id']}", a)  # message.deleted
        await chat.ok("POST", f"/conversations/{group}/read", b, json={"seq": 1})  # receipt.updated
        await chat.ok("POST", f"/conversations/{group}/read", b, json={"seq": 0})  # no-op
        await chat.ok(
            "POST", f"/conversations/{group}/members", a, json={"user_id": c}
        )  # member.added + system msg
        await chat.ok(
            "PUT", f"/conversations/{group}", a, json={"name": "G2"}
        )  # conversation.updated + system msg
        await chat.ok(
            "DELETE", f"/conversations/{group}/members/{c}", a
        )  # member.removed + system msg
        await chat.ok("DELETE", "/friends/2", a)  # friend.removed
        await chat.settle()

        received = chat.events.received
        # Once: each (event id, routing key) arrives exactly one time.
        pairs = Counter((str(e.id), k) for k, e in received)
        assert max(pairs.values()) == 1
        keys = chat.events.keys
        assert keys("friend.requested") == sorted(
            [
                "user.1.friend.requested",
                "user.2.friend.requested",
                "user.3.friend.requested",
                "user.1.friend.requested",
            ]
        )
        assert keys("friend.accepted") == sorted(
            [
                "user.1.friend.accepted",
                "user.2.friend.accepted",
                "user.3.friend.accepted",
                "user.1.friend.accepted",
            ]
        )
        assert keys("friend.removed") == ["user.1.friend.removed", "user.2.friend.removed"]
        assert keys("conversation.created") == sorted(
            ["user.1.conversation.created", "user.2.conversation.created"] * 2
        )
        assert keys("message.edited") == [f"conv.{group}.message.edited"]
        assert keys("message.deleted") == [f"conv.{group}.message.deleted"]
        assert keys("reaction.updated") == [f"conv.{group}.reaction.updated"]
        assert keys("receipt.updated") == [f"conv.{group}.receipt.updated"]
        assert keys("member.added") == sorted([f"conv.{group}.member.added", "user.3.member.added"])
        assert keys("member.removed") == sorted(
            [f"conv.{group}.member.removed", "user.3.member.removed"]
        )
        assert keys("conversation.updated") == [f"conv.{group}.conversation.updated"]
        # One user message and three system messages.
        created = chat.events.of_type("message.created")
        assert [k for k, _ in created] == [f"conv.{group}.message.created"] * 4
        first = created[0][1].data
        assert first["message"]["content"] == "hi" and first["member_ids"] == [1, 2]
        # Multi-audience events share one id.
        for event_type in ("member.added", "member.removed"):
            assert len({e.id for _, e in chat.events.of_type(event_type)}) == 1
        assert len({e.id for _, e in chat.events.of_type("friend.requested")}) == 2  # a-b, a-c
        added = chat.events.of_type("member.added")[0][1].data
        assert added["new_user"] == {"id": 3, "username": "carol"} and added["member_ids"] == [
            1,
            2,
            3,
        ]
        assert all(e.producer == "chat" for _, e in received)
        assert direct != group


@pytest.fixture
async def rabbit_proxy(amqp: BusConfig) -> AsyncIterator[TcpProxy]:
    """A cuttable TCP proxy in front of RabbitMQ; set up before (so torn down after) the app."""
    parts = urlsplit(amqp.url)
    proxy = await TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672).start()
    yield proxy
    await proxy.close()


class TestBrokerOutage:
    async def test_sends_succeed_and_events_follow(
        self, rabbit_proxy: TcpProxy, start_chat: Any, amqp: BusConfig
    ) -> None:
        proxy = rabbit_proxy
        parts = urlsplit(amqp.url)
        netloc = f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}"
        chat: Chat = await start_chat(amqp_url=urlunsplit(parts._replace(netloc=netloc)))
        a, b = await make_user(chat, 1, "alice"), await make_user(chat, 2, "bob")
        cid = (await make_group(chat, a, [b], name="g"))["id"]
        await send_message(chat, a, cid, "before")
        await chat.settle()
        await proxy.cut()
        sent = [await send_message(chat, a, cid, f"during {i}") for i in range(5)]
        assert [m["seq"] for m in sent] == [2, 3, 4, 5, 6]

        async def unready() -> bool:
            ready = await chat.client.get("/readyz")
            return ready.status_code == 503 and ready.json()["checks"]["bus"] is False

        await wait_for(unready, timeout=10, message="readiness reports the bus down")
        await proxy.restore()

        def delivered() -> bool:
            seqs = {e.data["message"]["seq"] for _, e in chat.events.of_type("message.created")}
            return {1, 2, 3, 4, 5, 6} <= seqs

        await wait_for(delivered, timeout=30, message="events published after the broker came back")
        await chat.settle()
        ids = [e.id for _, e in chat.events.of_type("message.created")]
        assert len(ids) == len(set(ids)) == 6
