"""What chat does with `user.deleted` and `export.requested` (issue 17): the deleted user's
relations go, groups hand admin on, the others keep their history from "Deleted user" (content
kept, or erased with reactions and attachments); redelivery changes nothing; an export part
holds the user's friends, conversations and sent messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select

from chat.models import Attachment, Block, FriendRequest, Friendship, Reaction, User
from chat.runtime import chat_runtime
from parley_common.bus import Delivery
from parley_common.events import (
    EventData,
    ExportRequested,
    UserDeleted,
    UserUpdated,
    envelope,
    svc_key,
)
from parley_common.testing.factories import (
    make_direct,
    make_friends,
    make_group,
    make_user,
    send_message,
)
from parley_common.testing.waiting import wait_for

from .conftest import Chat, StartChat, snapshot

ALICE, BOB, CAROL, DAVE = 1, 2, 3, 4


async def deliver(chat: Chat, event: EventData) -> None:
    env = envelope(event, producer="auth")
    delivery = Delivery(svc_key(env.type), env.model_dump_json().encode(), str(env.id))
    await chat_runtime(chat.app.state).consumers[0].handle(delivery)


async def count(chat: Chat, query: Any) -> int:
    async with chat_runtime(chat.app.state).sessionmaker() as session:
        return int(await session.scalar(query) or 0)


async def a_social_alice(chat: Chat) -> tuple[int, int, dict[str, Any]]:
    """alice: friends with bob and carol, admin of a group with both, a direct chat with bob,
    a pending request to dave, who blocked her; messages and reactions both ways."""
    for uid, name in ((ALICE, "alice"), (BOB, "bob"), (CAROL, "carol"), (DAVE, "dave")):
        await make_user(chat, uid, name)
    group = (await make_group(chat, ALICE, [BOB, CAROL], name="trip"))["id"]
    direct = (await make_direct(chat, ALICE, BOB))["id"]
    await chat.ok("POST", "/friends/request", ALICE, json={"username": "dave"})
    await chat.ok("POST", "/blocks", DAVE, json={"user_id": ALICE})
    mine = await send_message(chat, ALICE, direct, "from alice")
    theirs = await send_message(chat, BOB, direct, "from bob")
    await send_message(chat, ALICE, group, "hello group")
    await chat.ok("PUT", f"/messages/{mine['id']}/reactions/👍", BOB)
    await chat.ok("PUT", f"/messages/{theirs['id']}/reactions/🎉", ALICE)
    return group, direct, mine


def deleted() -> UserDeleted:
    return UserDeleted(user_id=ALICE, deleted_at=datetime.now(UTC))


class TestUserDeleted:
    async def test_relations_go_and_the_others_keep_the_history(self, chat: Chat) -> None:
        group, direct, _ = await a_social_alice(chat)
        await deliver(chat, deleted())

        assert [f["id"] for f in await chat.ok("GET", "/friends", BOB)] == []
        for model, columns in (
            (Friendship, (Friendship.user_low, Friendship.user_high)),
            (FriendRequest, (FriendRequest.requester_id, FriendRequest.receiver_id)),
            (Block, (Block.blocker_id, Block.blocked_id)),
            (Reaction, (Reaction.user_id,)),
        ):
            where = or_(*(c == ALICE for c in columns))
            assert await count(chat, select(func.count()).select_from(model).where(where)) == 0
        history = await chat.ok("GET", f"/messages/conversation/{direct}", BOB)
        assert [(m["sender_username"], m["content"]) for m in history] == [
            ("Deleted user", "from alice"),
            ("bob", "from bob"),
        ]
        assert history[0]["reactions"] == {"👍": [BOB]} and history[1]["reactions"] == {}
        members = await chat.ok("GET", f"/conversations/{group}/members", BOB)
        assert [(m["id"], m["role"]) for m in members] == [(BOB, "admin"), (CAROL, "member")]
        texts = [m["content"] for m in await chat.ok("GET", f"/messages/conversation/{group}", BOB)]
        assert "Deleted user left the group" in texts and "bob is now the group admin" in texts
        assert not [t for t in texts if "alice" in t]
        async with chat_runtime(chat.app.state).sessionmaker() as session:
            row = await session.get_one(User, ALICE)
            assert (row.username, row.email, row.avatar_url) == ("Deleted user", "", None)
        await chat.settle()
        assert sorted(chat.events.keys("friend.removed")) == [
            f"user.{BOB}.friend.removed",
            f"user.{CAROL}.friend.removed",
        ]

        # Redelivered (a new event id, past the inbox) or overtaken by an older user.updated:
        # nothing changes.
        before = await snapshot(chat)
        await deliver(chat, deleted())
        await deliver(
            chat,
            UserUpdated(
                user_id=ALICE,
                username="alice",
                email="alice@example.com",
                created_at=datetime.now(UTC),
            ),
        )
        assert await snapshot(chat) == before
        async with chat_runtime(chat.app.state).sessionmaker() as session:
            assert (await session.get_one(User, ALICE)).username == "Deleted user"

    async def test_erase_removes_content_reactions_and_attachments(
        self, start_chat: StartChat, tmp_path: Path
    ) -> None:
        chat = await start_chat(
            deleted_user_messages="erase", storage_url=f"file://{tmp_path}/uploads"
        )
        _, direct, mine = await a_social_alice(chat)
        r = await chat.call(
            "POST", "/attachments", ALICE, files={"file": ("notes.txt", b"secret plans", "x/y")}
        )
        assert r.status_code == 200, r.text
        with_file = await send_message(
            chat, ALICE, direct, "see file", attachment_ids=[r.json()["id"]]
        )
        storage = chat_runtime(chat.app.state).parts.storage
        (key,) = [k for (k,) in await _rows(chat, select(Attachment.storage_key))]
        assert await storage.exists(key)

        await deliver(chat, deleted())
        history = await chat.ok("GET", f"/messages/conversation/{direct}", BOB)
        erased = [m for m in history if m["id"] in (mine["id"], with_file["id"])]
        assert [(m["sender_username"], m["content"], m["deleted"]) for m in erased] == [
            ("Deleted user", "", True)
        ] * 2
        assert all(m["reactions"] == {} and not m.get("attachments") for m in erased)
        assert [m["content"] for m in history if m["sender_id"] == BOB] == ["from bob"]

        async def gone() -> bool:
            return not await storage.exists(key)

        await wait_for(gone, timeout=10, message="the attachment's object deleted")


async def _rows(chat: Chat, query: Any) -> list[Any]:
    async with chat_runtime(chat.app.state).sessionmaker() as session:
        return list((await session.execute(query)).all())


class TestExportRequested:
    async def test_stores_friends_conversations_and_sent_messages(
        self, start_chat: StartChat, tmp_path: Path
    ) -> None:
        chat = await start_chat(storage_url=f"file://{tmp_path}/uploads")
        group, direct, _ = await a_social_alice(chat)
        await make_friends(chat, BOB, CAROL)
        await deliver(chat, ExportRequested(export_id=7, user_id=ALICE))
        await chat.settle()
        ((key, event),) = chat.events.of_type("export.contributed")
        assert key == "svc.export.contributed"
        assert (event.data["export_id"], event.data["service"]) == (7, "chat")
        storage = chat_runtime(chat.app.state).parts.storage
        part = json.loads(await storage.get(event.data["storage_key"]))
        assert [f["username"] for f in part["friends"]] == ["bob", "carol"]
        assert {c["id"] for c in part["conversations"]} == {group, direct}
        assert [m["content"] for m in part["messages"]] == ["from alice", "hello group"]
