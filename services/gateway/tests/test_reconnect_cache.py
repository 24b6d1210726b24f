"""A user who reconnects while their bindings linger: set up from what the replica kept (no
lookup at chat), with what changed meanwhile, and nothing live missed."""

from __future__ import annotations

import json
import time
from typing import Any

from gateway.runtime import Gateway, gateway_of
from parley_common.events import (
    EventData,
    FriendAccepted,
    MemberAdded,
    MemberRemoved,
    envelope,
    user_key,
)
from parley_common.testing.waiting import wait_for

from .conftest import Env, connected, gateway_env, recv, recv_until


async def publish(env: Env, key: str, data: EventData) -> None:
    await env.bus.publish(key, envelope(data, producer="test").model_dump_json().encode())


async def away(env: Env, ws: Any, user_id: int) -> None:
    """Closes the user's socket; returns once the replica has parked what it knew."""
    await ws.close()
    registry = gateway(env).registry
    await wait_for(lambda: user_id in registry.parked, timeout=5)


def gateway(env: Env) -> Gateway:
    gw = gateway_of(env.server.app.state)
    assert gw is not None
    return gw


def user(uid: int) -> dict[str, Any]:
    return {"id": uid, "username": f"user{uid}", "email": None}


async def test_reconnect_needs_no_lookup_and_misses_nothing_live(env: Env) -> None:
    env.chat.add_conversation(10, {1, 2})
    ws = await env.connect(1)
    await connected(ws)
    assert env.chat.lookups == [1]
    await away(env, ws, 1)

    again = await env.connect(1)
    await connected(again)
    assert env.chat.lookups == [1]
    await env.chat.publish_created(env.chat.store_message(10, 2, "while you were away"))
    assert (await recv_until(again, "new_message"))["message"]["content"] == "while you were away"


async def test_changes_while_away_are_kept() -> None:
    async with gateway_env() as env:
        env.chat.add_conversation(10, {1, 2})
        env.chat.add_conversation(11, {1, 2})
        ws, other = await env.connect(1), await env.connect(2)
        await connected(ws)
        await connected(other)
        await away(env, ws, 1)

        removed = {"user": {"id": 1, "username": "user1"}, "removed_by": None, "reason": "left"}
        await publish(
            env,
            user_key(1, "member.removed"),
            MemberRemoved.model_validate({"conversation_id": 10, "member_ids": [2], **removed}),
        )
        accepted = {"request_id": 5, "requester_id": 1, "accepter": user(3), "requester": user(1)}
        await publish(env, user_key(1, "friend.accepted"), FriendAccepted.model_validate(accepted))
        registry = gateway(env).registry
        await wait_for(lambda: registry.parked[1].friends == {3}, timeout=5)

        again = await env.connect(1)
        frames = [await recv(again)]
        while frames[-1]["type"] != "connected":
            frames.append(await recv(again))
        assert env.chat.lookups == [1, 2]  # the first two connects only
        # The friend accepted meanwhile: their presence comes before `connected`.
        assert {"type": "user_offline", "user_id": 3} in [
            {k: f[k] for k in ("type", "user_id")} for f in frames if f["type"] != "connected"
        ]
        # Left conversation 10 meanwhile; still in 11.
        await again.send(json.dumps({"type": "typing", "conversation_id": 10, "is_typing": True}))
        assert (await recv(again))["code"] == "not_found"
        await again.send(json.dumps({"type": "typing", "conversation_id": 11, "is_typing": True}))
        assert (await recv_until(other, "typing"))["conversation_id"] == 11


async def test_joining_a_conversation_while_away_means_a_lookup(env: Env) -> None:
    env.chat.add_conversation(10, {1, 2})
    ws = await env.connect(1)
    await connected(ws)
    await away(env, ws, 1)

    env.chat.add_conversation(12, {1, 2})
    added = {"conversation_id": 12, "new_user": {"id": 1, "username": "user1"}}
    await publish(
        env,
        user_key(1, "member.added"),
        MemberAdded.model_validate({**added, "added_by": None, "member_ids": [1, 2]}),
    )
    registry = gateway(env).registry
    await wait_for(lambda: 1 not in registry.parked, timeout=5)

    again = await env.connect(1)
    await connected(again)
    assert env.chat.lookups == [1, 1]
    await env.chat.publish_created(env.chat.store_message(12, 2, "welcome"))
    assert (await recv_until(again, "new_message"))["message"]["content"] == "welcome"


async def test_what_was_kept_goes_with_the_bindings_and_on_bus_reconnect(env: Env) -> None:
    env.chat.add_conversation(10, {1, 2})
    registry = gateway(env).registry
    for _ in range(2):
        ws = await env.connect(1)
        await connected(ws)
        await away(env, ws, 1)
        await registry.sweep(now=time.monotonic() + 31)  # past the linger
        assert 1 not in registry.parked
    assert env.chat.lookups == [1, 1]

    ws = await env.connect(1)
    await connected(ws)
    await away(env, ws, 1)
    await gateway(env).fanout.on_bus_reconnect()
    ws = await env.connect(1)
    await connected(ws)
    assert env.chat.lookups == [1, 1, 1, 1]
