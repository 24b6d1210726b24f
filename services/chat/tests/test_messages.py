"""Messages: send, sequencing under concurrency, idempotency, paging, edit, delete, reactions, search."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select

from chat.models import Message
from chat.runtime import chat_runtime
from parley_common.testing.factories import (
    make_direct,
    make_friends,
    make_group,
    make_user,
    send_message,
)

from .conftest import Chat, StartChat


async def setup_group(chat: Chat, n: int = 3) -> tuple[list[int], int]:
    names = ["alice", "bob", "carol", "dave"]
    ids = [await make_user(chat, i + 1, names[i]) for i in range(n)]
    cid = (await make_group(chat, ids[0], ids[1:], name="g"))["id"]
    return ids, cid


class TestSend:
    async def test_send_shape(self, chat: Chat) -> None:
        (a, b, _), cid = await setup_group(chat)
        m = await send_message(chat, a, cid, "  hi @Bob and @nobody  ", client_msg_id="c-1")
        assert m["conversation_id"] == cid and m["seq"] == 1 and m["sender_id"] == a
        assert m["sender_username"] == "alice" and m["content"] == "  hi @Bob and @nobody  "
        assert m["type"] == "text" and m["client_msg_id"] == "c-1" and m["reply_to"] is None
        assert m["mentions"] == [b] and m["reactions"] == {} and m["edited_at"] is None
        assert m["deleted"] is False and m["created_at"].endswith(("Z", "+00:00"))
        reply = await send_message(chat, b, cid, "re", reply_to=m["id"])
        assert reply["reply_to"] == m["id"] and reply["seq"] == 2

    async def test_send_errors(self, start_chat: StartChat) -> None:
        chat = await start_chat(max_message_length=10)
        (a, b, _), cid = await setup_group(chat)
        r = await chat.call("POST", "/messages", a, json={"content": "x"})
        assert (r.status_code, r.json()["detail"]) == (400, "conversation_id is required")
        r = await chat.call("POST", "/messages", a, json={"conversation_id": 999, "content": "x"})
        assert (r.status_code, r.json()["detail"]) == (
            404,
            "Conversation not found or access denied",
        )
        for content in ("", "   \n", "x" * 11, None):
            r = await chat.call(
                "POST", "/messages", a, json={"conversation_id": cid, "content": content}
            )
            assert r.status_code == 422 and isinstance(r.json()["detail"], list), content
        ok = await send_message(chat, a, cid, "  " + "x" * 10 + "  ")
        assert ok["content"] == "  " + "x" * 10 + "  "
        r = await chat.call("POST", "/messages", a, json={"conversation_id": "abc", "content": "x"})
        assert r.status_code == 422
        other = (await make_group(chat, b, [a], name="other"))["id"]
        foreign = await send_message(chat, b, other, "elsewhere")
        r = await chat.call(
            "POST",
            "/messages",
            a,
            json={"conversation_id": cid, "content": "x", "reply_to": foreign["id"]},
        )
        assert r.status_code == 400
        r = await chat.call(
            "POST", "/messages", a, json={"conversation_id": cid, "content": "x", "reply_to": 12345}
        )
        assert r.status_code == 400

    async def test_direct_blocked(self, chat: Chat) -> None:
        a, b = await make_user(chat, 1, "alice"), await make_user(chat, 2, "bob")
        await make_friends(chat, a, b)
        cid = (await make_direct(chat, a, b))["id"]
        await send_message(chat, a, cid, "hi")
        await chat.ok("POST", "/blocks", b, json={"user_id": a})
        for sender in (a, b):
            r = await chat.call(
                "POST", "/messages", sender, json={"conversation_id": cid, "content": "x"}
            )
            assert (r.status_code, r.json()["detail"]) == (403, "You cannot message this user")


class TestSequencing:
    async def test_concurrent_senders_get_gap_free_seqs(self, chat: Chat) -> None:
        names = [await make_user(chat, i, f"u{i}") for i in range(1, 21)]
        cid = (await make_group(chat, names[0], names[1:], name="busy"))["id"]
        headers = {u: chat.h(u) for u in names}

        async def sender(user_id: int) -> list[int]:
            seqs = []
            for i in range(50):
                r = await chat.client.post(
                    "/messages",
                    headers=headers[user_id],
                    json={
                        "conversation_id": cid,
                        "content": f"{user_id}-{i}",
                        "client_msg_id": f"{user_id}-{i}",
                    },
                )
                assert r.status_code == 200, r.text
                seqs.append(r.json()["seq"])
            return seqs

        results = await asyncio.gather(*(sender(u) for u in names))
        seqs = sorted(s for r in results for s in r)
        assert seqs == list(range(1, 1001))
        for r in results:
            assert r == sorted(r)  # each sender's own messages are in order
        async with chat_runtime(chat.app.state).sessionmaker() as session:
            stored = list(
                await session.scalars(
                    select(Message.seq).where(Message.conversation_id == cid).order_by(Message.seq)
                )
            )
        assert stored == list(range(1, 1001))
        conv = await chat.ok("GET", f"/conversations/{cid}", names[0])
        assert conv["last_seq"] == 1000

    async def test_two_replicas_sending_at_once_get_gap_free_seqs(
        self, chat: Chat, start_chat: StartChat
    ) -> None:
        """Two chat processes on one database (replicas), each batching its own sends into
        concurrent transactions: the conversation's row lock keeps seqs unique and gap-free."""
        other = await start_chat()
        names = [await make_user(chat, i, f"r{i}") for i in range(1, 11)]
        other.usernames.update(chat.usernames)
        cid = (await make_group(chat, names[0], names[1:], name="replicas"))["id"]

        async def sender(replica: Chat, user_id: int) -> list[int]:
            seqs = []
            for i in range(30):
                body = {"conversation_id": cid, "content": f"{i}", "client_msg_id": f"{i}"}
                seqs.append((await replica.ok("POST", "/messages", user_id, json=body))["seq"])
            return seqs

        results = await asyncio.gather(*(sender(chat if u % 2 else other, u) for u in names))
        assert sorted(s for r in results for s in r) == list(range(1, 301))
        conv = await chat.ok("GET", f"/conversations/{cid}", names[0])
        assert conv["last_seq"] == 300


class TestIdempotency:
    async def test_same_client_msg_id_returns_first(self, chat: Chat) -> None:
        (a, _, _), cid = await setup_group(chat)
        body = {"conversation_id": cid, "content": "once", "client_msg_id": "dup-1"}
        first = await chat.ok("POST", "/messages", a, json=body)
        for _ in range(4):
            assert await chat.ok("POST", "/messages", a, json=body) == first
        # Concurrent retries of a fresh id: one row, the same message every time.
        body2 = {**body, "client_msg_id": f"dup-{uuid.uuid4().hex}"}
        headers = chat.h(a)
        responses = await asyncio.gather(
            *(chat.client.post("/messages", headers=headers, json=body2) for _ in range(5))
        )
        assert {r.status_code for r in responses} == {200}
        assert len({r.json()["id"] for r in responses}) == 1
        assert len({r.json()["seq"] for r in responses}) == 1
        async with chat_runtime(chat.app.state).sessionmaker() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.client_msg_id.in_(["dup-1", body2["client_msg_id"]]))
            )
        assert count == 2
        nxt = await send_message(chat, a, cid, "next")
        assert nxt["seq"] == 3  # no seq was burnt by the retries
        await chat.settle()
        created = [e for _, e in chat.events.of_type("message.created")]
        assert len(created) == 3


class TestPaging:
    async def test_both_pagination_styles(self, chat: Chat) -> None:
        (a, _, _), cid = await setup_group(chat)
        for i in range(1, 11):
            await send_message(chat, a, cid, f"m{i}")
        page = await chat.ok("GET", f"/messages/conversation/{cid}?limit=3", a)
        assert [m["content"] for m in page] == ["m8", "m9", "m10"]
        page = await chat.ok("GET", f"/messages/conversation/{cid}?skip=3&limit=3", a)
        assert [m["content"] for m in page] == ["m5", "m6", "m7"]
        assert len(await chat.ok("GET", f"/messages/conversation/{cid}", a)) == 10
        for bad in ("limit=0", "limit=101", "skip=-1"):
            r = await chat.call("GET", f"/messages/conversation/{cid}?{bad}", a)
            assert r.status_code == 422, bad
        page = await chat.ok("GET", f"/conversations/{cid}/messages?after_seq=2&limit=3", a)
        assert [m["seq"] for m in page] == [3, 4, 5]
        page = await chat.ok("GET", f"/conversations/{cid}/messages?before_seq=5&limit=2", a)
        assert [m["seq"] for m in page] == [3, 4]
        page = await chat.ok("GET", f"/conversations/{cid}/messages?limit=2", a)
        assert [m["seq"] for m in page] == [9, 10]
        r = await chat.call("GET", f"/conversations/{cid}/messages?limit=500", a)
        assert r.status_code == 422


class TestEditDeleteReact:
    async def test_edit_delete_react(self, chat: Chat) -> None:
        (a, b, _), cid = await setup_group(chat)
        m = await send_message(chat, a, cid, "first")
        r = await chat.call("PATCH", f"/messages/{m['id']}", b, json={"content": "hacked"})
        assert r.status_code == 403
        edited = await chat.ok("PATCH", f"/messages/{m['id']}", a, json={"content": "fixed @bob"})
        assert (
            edited["content"] == "fixed @bob" and edited["edited_at"] and edited["mentions"] == [b]
        )
        r = await chat.call("PATCH", f"/messages/{m['id']}", a, json={"content": " "})
        assert r.status_code == 422
        reacted = await chat.ok("PUT", f"/messages/{m['id']}/reactions/👍", b)
        assert reacted["reactions"] == {"👍": [b]}
        reacted = await chat.ok("PUT", f"/messages/{m['id']}/reactions/👍", a)
        assert reacted["reactions"] == {"👍": [a, b]}
        reacted = await chat.ok("PUT", f"/messages/{m['id']}/reactions/👍", a)
        assert reacted["reactions"] == {"👍": [a, b]}
        reacted = await chat.ok("DELETE", f"/messages/{m['id']}/reactions/👍", b)
        assert reacted["reactions"] == {"👍": [a]}
        r = await chat.call("DELETE", f"/messages/{m['id']}", b)
        assert r.status_code == 403
        assert await chat.ok("DELETE", f"/messages/{m['id']}", a) == {"status": "ok"}
        page = await chat.ok("GET", f"/messages/conversation/{cid}", a)
        assert page[0]["content"] == "" and page[0]["deleted"] is True and page[0]["seq"] == 1
        r = await chat.call("PATCH", "/messages/99999", a, json={"content": "x"})
        assert (r.status_code, r.json()["detail"]) == (404, "Message not found")


class TestSearch:
    async def test_search_scope(self, chat: Chat) -> None:
        (a, b, c), cid = await setup_group(chat)
        other = (await make_group(chat, b, [c], name="secret"))["id"]
        await send_message(chat, a, cid, "the quick brown fox")
        await send_message(chat, b, cid, "lazy dog")
        await send_message(chat, b, other, "hidden fox den")
        found = await chat.ok("GET", "/messages/search", a, params={"q": "fox"})
        assert [m["content"] for m in found] == ["the quick brown fox"]
        found = await chat.ok("GET", "/messages/search", c, params={"q": "fox"})
        assert sorted(m["content"] for m in found) == ["hidden fox den", "the quick brown fox"]
        found = await chat.ok(
            "GET", "/messages/search", c, params={"q": "fox", "conversation_id": other}
        )
        assert [m["content"] for m in found] == ["hidden fox den"]
        r = await chat.call(
            "GET", "/messages/search", a, params={"q": "fox", "conversation_id": other}
        )
        assert (r.status_code, r.json()["detail"]) == (
            404,
            "Conversation not found or access denied",
        )
        r = await chat.call("GET", "/messages/search", a, params={"q": ""})
        assert r.status_code == 422
        # A removed member no longer finds anything in that conversation.
        await chat.ok("DELETE", f"/conversations/{cid}/members/{c}", a)
        found = await chat.ok("GET", "/messages/search", c, params={"q": "fox"})
        assert [m["content"] for m in found] == ["hidden fox den"]
