"""The integration API: conversations bound to a host's objects, participants set by the host,
system messages posted once per idempotency key, and integration keys that only work there."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from chat.integrations import keys
from chat.models import OUTBOX as outbox
from chat.models import Conversation
from chat.runtime import chat_runtime
from parley.integration_keys import create_key, revoke_key
from parley_common.testing.factories import make_group, make_user, send_message

from .conftest import Chat

ROOT = Path(__file__).resolve().parents[3]
CTX = "/integrations/contexts/job/42"


async def new_key(chat: Chat, name: str = "host") -> str:
    async with chat_runtime(chat.app.state).sessionmaker() as session:
        key = await keys.create(session, name)
        await session.commit()
    return key


def kh(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def put(chat: Chat, key: str, participants: list[int], path: str = CTX, **body: Any) -> Any:
    body = {"title": "Job 42", "participant_user_ids": participants, "metadata": {}, **body}
    r = await chat.client.put(path, json=body, headers=kh(key))
    assert r.status_code == 200, r.text
    return r.json()


async def post(chat: Chat, key: str, path: str = CTX, **body: Any) -> Any:
    body = {"kind": "payment", "content": "Paid 40 EUR", "metadata": {"amount": 40}, **body}
    r = await chat.client.post(f"{path}/messages", json=body, headers=kh(key))
    assert r.status_code == 200, r.text
    return r.json()


async def outbox_rows(chat: Chat) -> int:
    async with chat_runtime(chat.app.state).sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(outbox)) or 0)


async def context_conversations(chat: Chat) -> int:
    async with chat_runtime(chat.app.state).sessionmaker() as session:
        query = select(func.count()).where(Conversation.context_type.is_not(None))
        return int(await session.scalar(query) or 0)


def events_for(chat: Chat, event_type: str, conversation_id: int) -> list[Any]:
    return [
        e.data
        for k, e in chat.events.of_type(event_type)
        if k.startswith(f"conv.{conversation_id}.")
    ]


class TestPutContext:
    async def test_created_once_and_a_repeat_changes_nothing(self, chat: Chat) -> None:
        a, b = await make_user(chat, 1, "alice"), await make_user(chat, 2, "bob")
        key = await new_key(chat)
        first = await put(chat, key, [b, a], metadata={"price": 40})
        assert first["type"] == "group" and first["name"] == "Job 42"
        assert first["context"] == {"type": "job", "id": "42", "metadata": {"price": 40}}
        assert first["member_ids"] == [a, b]
        assert {m["role"] for m in first["members"]} == {"member"}
        await chat.settle()
        rows = await outbox_rows(chat)

        again = await put(chat, key, [a, b], metadata={"price": 40})
        assert again["id"] == first["id"] and again["last_seq"] == first["last_seq"]
        assert await outbox_rows(chat) == rows
        assert await context_conversations(chat) == 1

        got = await chat.client.get(CTX, headers=kh(key))
        assert got.status_code == 200 and got.json()["context"] == first["context"]
        # Participants see it like any conversation, with its context; ordinary chats have none.
        mine = await chat.ok("GET", f"/conversations/{first['id']}", b)
        assert mine["context"] == first["context"]
        group = await make_group(chat, a, [], name="plain")
        assert group["context"] is None

    async def test_concurrent_first_puts_make_one_conversation(self, chat: Chat) -> None:
        a, b = await make_user(chat, 1, "alice"), await make_user(chat, 2, "bob")
        key = await new_key(chat)
        results = await asyncio.gather(*(put(chat, key, [a, b]) for _ in range(6)))
        assert len({r["id"] for r in results}) == 1
        assert await context_conversations(chat) == 1
        await chat.settle()
        assert len(chat.events.of_type("conversation.created")) == 2  # one event, two users
        assert events_for(chat, "member.added", results[0]["id"]) == []

    async def test_unknown_user_is_404_and_creates_nothing(self, chat: Chat) -> None:
        a = await make_user(chat, 1, "alice")
        key = await new_key(chat)
        r = await chat.client.put(
            CTX,
            json={"title": "t", "participant_user_ids": [a, 999], "metadata": {}},
            headers=kh(key),
        )
        assert r.status_code == 404 and r.json()["detail"] == "User not found"
        assert await context_conversations(chat) == 0
        missing = await chat.client.get(CTX, headers=kh(key))
        assert missing.status_code == 404

    async def test_title_and_metadata_changes(self, chat: Chat) -> None:
        a = await make_user(chat, 1, "alice")
        key = await new_key(chat)
        first = await put(chat, key, [a])
        changed = await put(chat, key, [a], title="Job 42 (done)", metadata={"state": "done"})
        assert changed["name"] == "Job 42 (done)"
        assert changed["context"]["metadata"] == {"state": "done"}
        assert changed["last_seq"] == first["last_seq"] + 1  # the rename's system message
        await chat.settle()
        assert len(events_for(chat, "conversation.updated", first["id"])) == 1


class TestParticipants:
    async def test_exactly_the_difference_is_added_and_removed(self, chat: Chat) -> None:
        a, b, c, d = [await make_user(chat, i, n) for i, n in enumerate("abcd", 1)]
        key = await new_key(chat)
        conv = await put(chat, key, [a, b, c])
        await chat.settle()
        before = len(chat.events.received)

        after = await put(chat, key, [a, c, d])
        assert after["member_ids"] == [a, c, d]
        await chat.settle()
        removed = events_for(chat, "member.removed", conv["id"])
        added = events_for(chat, "member.added", conv["id"])
        assert [(e["user"]["id"], e["reason"]) for e in removed] == [(b, "context")]
        assert [e["new_user"]["id"] for e in added] == [d]
        assert chat.events.keys("member.removed") == [
            f"conv.{conv['id']}.member.removed",
            f"user.{b}.member.removed",
        ]
        new_types = sorted(e.type for _, e in chat.events.received[before:])
        assert new_types == sorted(
            ["member.removed"] * 2 + ["member.added"] * 2 + ["message.created"] * 2
        )
        texts = [
            m["content"] for m in await chat.ok("GET", f"/messages/conversation/{conv['id']}", a)
        ]
        assert texts == ["b was removed from the group", "d was added to the group"]

    async def test_a_removed_participant_stops_receiving(self, chat: Chat) -> None:
        a, b = await make_user(chat, 1, "alice"), await make_user(chat, 2, "bob")
        key = await new_key(chat)
        conv = await put(chat, key, [a, b])
        await put(chat, key, [a])
        await chat.settle()
        before = len(chat.events.received)
        message = await post(chat, key)
        await chat.settle()
        created = [e for _, e in chat.events.received[before:] if e.type == "message.created"]
        assert [e.data["member_ids"] for e in created] == [[a]]
        r = await chat.call("GET", f"/conversations/{conv['id']}/messages", b)
        assert r.status_code == 404
        # Resume serves them history only up to their removal notice.
        resumed = await chat.internal(
            f"/internal/conversations/{conv['id']}/messages", params={"user_id": b}
        )
        seqs = [m["seq"] for m in resumed.json()["messages"]]
        assert message["seq"] not in seqs and seqs == [1]
        # Re-adding them brings them back.
        assert (await put(chat, key, [a, b]))["member_ids"] == [a, b]
        await chat.ok("GET", f"/conversations/{conv['id']}/messages", b)

    async def test_participants_cannot_leave_or_manage_it(self, chat: Chat) -> None:
        a, b = await make_user(chat, 1, "alice"), await make_user(chat, 2, "bob")
        key = await new_key(chat)
        conv = await put(chat, key, [a])
        cid = conv["id"]
        assert (await chat.call("DELETE", f"/conversations/{cid}/leave", a)).status_code == 403
        add = await chat.call("POST", f"/conversations/{cid}/members", a, json={"user_id": b})
        assert add.status_code == 403
        rename = await chat.call("PUT", f"/conversations/{cid}", a, json={"name": "mine"})
        assert rename.status_code == 403
        await send_message(chat, a, cid, "members still talk")


class TestSystemMessages:
    async def test_posted_like_any_message_and_only_once(self, chat: Chat) -> None:
        a, b = await make_user(chat, 1, "alice"), await make_user(chat, 2, "bob")
        key = await new_key(chat)
        conv = await put(chat, key, [a, b])
        first = await post(chat, key, idempotency_key="pay-1")
        assert first["type"] == "system" and first["sender_id"] is None
        assert first["sender_username"] == "system"
        assert (first["kind"], first["metadata"]) == ("payment", {"amount": 40})
        assert first["seq"] == 1
        retries = await asyncio.gather(
            *(post(chat, key, idempotency_key="pay-1") for _ in range(4))
        )
        assert {r["id"] for r in retries} == {first["id"]}
        await chat.settle()
        created = events_for(chat, "message.created", conv["id"])
        assert [e["message"]["id"] for e in created] == [first["id"]]
        assert created[0]["message"]["kind"] == "payment"
        assert created[0]["member_ids"] == [a, b]

        seen = await chat.ok("GET", f"/conversations/{conv['id']}/messages", b)
        assert [(m["kind"], m["metadata"]) for m in seen] == [("payment", {"amount": 40})]
        other = await post(chat, key, kind="dispute", idempotency_key="dispute-1")
        assert other["seq"] == 2
        # Ordinary messages carry kind and metadata as null.
        text = await send_message(chat, a, conv["id"], "ok")
        assert text["kind"] is None and text["metadata"] is None

    async def test_unknown_context_is_404(self, chat: Chat) -> None:
        key = await new_key(chat)
        r = await chat.client.post(
            "/integrations/contexts/job/nope/messages",
            json={"kind": "payment", "content": "x"},
            headers=kh(key),
        )
        assert r.status_code == 404 and r.json()["detail"] == "Context not found"


class TestKeys:
    async def test_wrong_revoked_and_missing_keys_are_401_and_change_nothing(
        self, chat: Chat
    ) -> None:
        a = await make_user(chat, 1, "alice")
        key = await new_key(chat)
        await put(chat, key, [a])
        rows = await outbox_rows(chat)
        body = {"title": "Hijack", "participant_user_ids": [], "metadata": {}}
        other = "/integrations/contexts/job/43"

        missing = await chat.client.put(CTX, json=body)
        assert missing.status_code == 401 and missing.json()["detail"] == "Not authenticated"
        wrong = await chat.client.put(CTX, json=body, headers=kh(keys.generate()))
        assert wrong.status_code == 401
        assert wrong.json()["detail"] == "Invalid or revoked integration key"
        assert wrong.headers["www-authenticate"] == "Bearer"

        async with chat_runtime(chat.app.state).sessionmaker() as session:
            assert await keys.revoke(session, "host")
            await session.commit()
        for method, path, payload in (
            ("PUT", CTX, body),
            ("PUT", other, body),
            ("POST", f"{CTX}/messages", {"kind": "payment", "content": "x"}),
            ("GET", CTX, None),
        ):
            r = await chat.client.request(method, path, json=payload, headers=kh(key))
            assert r.status_code == 401, (method, path)
        assert await outbox_rows(chat) == rows
        assert await context_conversations(chat) == 1
        assert (await chat.ok("GET", "/conversations", a))[0]["name"] == "Job 42"

    async def test_end_user_tokens_do_not_work_on_integrations(self, chat: Chat) -> None:
        a = await make_user(chat, 1, "alice")
        r = await chat.call(
            "PUT", CTX, a, json={"title": "t", "participant_user_ids": [a], "metadata": {}}
        )
        assert r.status_code == 401 and r.json()["code"] == "integration_key_required"
        assert "Integration key required" in r.json()["detail"]
        assert await context_conversations(chat) == 0

    async def test_integration_keys_do_not_work_on_user_routes(self, chat: Chat) -> None:
        await make_user(chat, 1, "alice")
        key = await new_key(chat)
        for method, path in (("GET", "/conversations"), ("GET", "/friends")):
            r = await chat.client.request(method, path, headers=kh(key))
            assert r.status_code == 401
            assert r.json()["detail"] == "Could not validate credentials"
        r = await chat.client.post(
            "/messages", json={"conversation_id": 1, "content": "x"}, headers=kh(key)
        )
        assert r.status_code == 401

    async def test_cli_creates_a_working_key_and_revoke_stops_it(
        self, chat: Chat, pg_url: str
    ) -> None:
        a = await make_user(chat, 1, "alice")
        env = {**os.environ, "PARLEY_CHAT_DATABASE_URL": pg_url}
        created = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "parley.cli", "integration-key", "create", "shop"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()
        assert key.startswith(keys.PREFIX)
        await put(chat, key, [a])

        second = await create_key(pg_url, "backoffice")  # the same code, called in-process
        await put(chat, second, [a])
        await revoke_key(pg_url, "shop")
        r = await chat.client.get(CTX, headers=kh(key))
        assert r.status_code == 401
        assert (await chat.client.get(CTX, headers=kh(second))).status_code == 200
        # Only the hash is stored.
        async with chat_runtime(chat.app.state).sessionmaker() as session:
            stored = {k.name: k.key_hash for k in await keys.list_all(session)}
        assert stored["shop"] == keys.hash_key(key) and key not in stored.values()
