"""DELETE /conversations/{id} (issue 17): a direct chat hides until a new message; a group is
deleted for everyone by its admin, messages and files with it; anyone else is refused."""

from __future__ import annotations

import json

from sqlalchemy import select

from chat.models import OUTBOX, Message
from chat.runtime import chat_runtime
from parley_common.testing.factories import (
    make_direct,
    make_friends,
    make_group,
    make_user,
    send_message,
)

from .conftest import Chat


async def ids(chat: Chat, user_id: int) -> list[int]:
    return [c["id"] for c in await chat.ok("GET", "/conversations", user_id)]


async def test_a_hidden_direct_chat_comes_back_with_the_next_message(chat: Chat) -> None:
    ana, ben = [await make_user(chat, i, n) for i, n in ((1, "ana"), (2, "ben"))]
    await make_friends(chat, ana, ben)
    direct = await make_direct(chat, ana, ben)
    await send_message(chat, ben, direct["id"], "hello")
    await chat.ok("DELETE", f"/conversations/{direct['id']}", ana)
    assert await ids(chat, ana) == [] and await ids(chat, ben) == [direct["id"]]
    assert (await chat.ok("GET", f"/conversations/{direct['id']}", ana))["id"] == direct["id"]
    await send_message(chat, ben, direct["id"], "are you there?")
    assert await ids(chat, ana) == [direct["id"]]
    history = await chat.ok("GET", f"/messages/conversation/{direct['id']}", ana)
    assert [m["content"] for m in history] == ["hello", "are you there?"]  # nothing lost


async def test_a_group_is_deleted_for_everyone_by_its_admin_only(chat: Chat) -> None:
    ana, ben, cleo = [await make_user(chat, i, n) for i, n in ((1, "ana"), (2, "ben"), (3, "cleo"))]
    group = await make_group(chat, ana, [ben])
    sent = await send_message(chat, ben, group["id"], "plans")
    r = await chat.call("DELETE", f"/conversations/{group['id']}", ben)
    assert (r.status_code, r.json()["code"]) == (403, "not_admin")
    r = await chat.call("DELETE", f"/conversations/{group['id']}", cleo)
    assert (r.status_code, r.json()["detail"]) == (404, "Conversation not found")
    assert await ids(chat, ben) == [group["id"]]

    await chat.ok("DELETE", f"/conversations/{group['id']}", ana)
    for user in (ana, ben):
        assert await ids(chat, user) == []
        r = await chat.call("GET", f"/messages/{sent['id']}", user)
        assert r.status_code == 404
    async with chat_runtime(chat.app.state).sessionmaker() as session:
        (content,) = (
            await session.execute(select(Message.content).where(Message.id == sent["id"]))
        ).one()
        events = (
            await session.execute(
                select(OUTBOX.c.routing_key, OUTBOX.c.payload).where(
                    OUTBOX.c.event_type == "conversation.deleted"
                )
            )
        ).all()
    assert content == ""
    ((key, payload),) = events
    assert key == f"conv.{group['id']}.conversation.deleted"
    data = json.loads(payload)["data"]
    assert sorted(data["member_ids"]) == [ana, ben] and data["deleted_by"]["username"] == "ana"
