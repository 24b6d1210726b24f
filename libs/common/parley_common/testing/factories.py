"""Async factories over a service's public API (`UserApi`): a new test is a few lines.

alice, bob = await make_user(api, 1), await make_user(api, 2)
group = await make_group(api, alice, [bob])
await send_messages(api, alice, group["id"], "hi", "there")
"""

from __future__ import annotations

import itertools
from typing import Any

from .harness import UserApi

_ids = itertools.count(10_000)


async def make_user(api: UserApi, user_id: int | None = None, username: str | None = None) -> int:
    """A user known to the service; ids from 10 000 up when not given."""
    user_id = next(_ids) if user_id is None else user_id
    username = username or f"user{user_id}"
    await api.register(user_id, username)
    api.usernames[user_id] = username
    return user_id


async def make_friends(api: UserApi, user_id: int, *others: int) -> None:
    """`others` become friends of `user_id` (request, then accepted), unless they are."""
    friends = {f["id"] for f in await api.ok("GET", "/friends", user_id)}
    for other in others:
        if other == user_id or other in friends:
            continue
        await api.ok("POST", "/friends/request", user_id, json={"username": api.usernames[other]})
        requests = await api.ok("GET", "/friends/requests", other)
        rid = next(r["id"] for r in requests if r["requester"]["id"] == user_id)
        await api.ok("PUT", f"/friends/requests/{rid}/accept", other)


async def make_direct(api: UserApi, user_id: int, other: int) -> dict[str, Any]:
    """The direct conversation of the two (opened by `user_id`)."""
    body = {"type": "direct", "member_user_ids": [other]}
    conversation: dict[str, Any] = await api.ok("POST", "/conversations", user_id, json=body)
    return conversation


async def make_group(
    api: UserApi, admin: int, members: list[int], name: str = "group"
) -> dict[str, Any]:
    """A group of `admin` (befriended with every member first: only friends can be added)."""
    await make_friends(api, admin, *members)
    body = {"type": "group", "name": name, "member_user_ids": members}
    group: dict[str, Any] = await api.ok("POST", "/conversations", admin, json=body)
    return group


async def send_message(
    api: UserApi, user_id: int, conversation_id: int, content: str = "hello", **fields: Any
) -> dict[str, Any]:
    body = {"conversation_id": conversation_id, "content": content, **fields}
    message: dict[str, Any] = await api.ok("POST", "/messages", user_id, json=body)
    return message


async def send_messages(
    api: UserApi, user_id: int, conversation_id: int, *contents: str
) -> list[dict[str, Any]]:
    """The messages, sent one after the other (their seqs in this order)."""
    return [await send_message(api, user_id, conversation_id, c) for c in contents]
