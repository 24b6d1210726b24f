"""What the integration API refuses (PROTOCOL.md section 3, docs/integrations.md), and host
notifications (`POST /integrations/notifications`): a refusal answers its status, detail and
code and changes nothing, an accepted notification is handed to notify as one event."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from chat.errors import BadRequest
from chat.integrations import keys
from chat.runtime import chat_runtime
from parley_common.testing.factories import make_user

from .conftest import Chat, StartChat, refused, snapshot
from .test_integrations import CTX, kh, new_key, post, put

NOTIFY = "/integrations/notifications"


def invalid(r: httpx.Response, field: str) -> bool:
    """FastAPI's 422 list, naming the body field."""
    detail = r.json()["detail"]
    return r.status_code == 422 and any(e["loc"][:2] == ["body", field] for e in detail)


class TestContextRefusals:
    async def test_a_blank_title_is_400_and_creates_nothing(self, chat: Chat) -> None:
        a = await make_user(chat, 1, "alice")
        key = await new_key(chat)
        before = await snapshot(chat)
        r = await chat.client.put(
            CTX, json={"title": "   ", "participant_user_ids": [a]}, headers=kh(key)
        )
        assert refused(r, 400, "Title must be 1-200 characters", "invalid_title"), r.text
        assert await snapshot(chat) == before
        assert (await chat.client.get(CTX, headers=kh(key))).status_code == 404

    async def test_oversized_metadata_is_422_and_changes_nothing(self, chat: Chat) -> None:
        a = await make_user(chat, 1, "alice")
        key = await new_key(chat)
        await put(chat, key, [a], metadata={"price": 40})
        await chat.settle()
        before = await snapshot(chat)
        huge = {"blob": "x" * (16 * 1024)}
        r = await chat.client.put(
            CTX,
            json={"title": "Job 42", "participant_user_ids": [a], "metadata": huge},
            headers=kh(key),
        )
        assert invalid(r, "metadata"), r.text
        r = await chat.client.post(
            f"{CTX}/messages",
            json={"kind": "payment", "content": "Paid", "metadata": huge},
            headers=kh(key),
        )
        assert invalid(r, "metadata"), r.text
        assert await snapshot(chat) == before
        got = (await chat.client.get(CTX, headers=kh(key))).json()
        assert got["context"]["metadata"] == {"price": 40}

    async def test_blank_or_too_long_messages_are_422_and_post_nothing(
        self, start_chat: StartChat
    ) -> None:
        chat = await start_chat(max_message_length=20)
        a = await make_user(chat, 1, "alice")
        key = await new_key(chat)
        await put(chat, key, [a])
        await chat.settle()
        before = await snapshot(chat)
        for content, msg in [
            ("  \n ", "Message content must not be empty"),
            ("x" * 21, "Message content must be at most 20 characters"),
        ]:
            r = await chat.client.post(
                f"{CTX}/messages", json={"kind": "payment", "content": content}, headers=kh(key)
            )
            assert invalid(r, "content") and r.json()["detail"][0]["msg"] == msg, r.text
        assert await snapshot(chat) == before
        assert (await post(chat, key, content="x" * 20))["seq"] == 1


class TestHostNotifications:
    async def test_accepted_and_handed_to_notify(self, chat: Chat) -> None:
        a, b = await make_user(chat, 1, "alice"), await make_user(chat, 2, "bob")
        key = await new_key(chat, "tasks")
        body = {
            "user_ids": [b, a, b],
            "type": "task.assigned",
            "title": "  Task 7 is yours ",
            "body": "Clean the kitchen",
            "link": "/tasks/7",
            "data": {"task": 7},
            "idempotency_key": "task-7-assigned",
        }
        r = await chat.client.post(NOTIFY, json=body, headers=kh(key))
        assert r.status_code == 200, r.text
        assert r.json() == {
            "status": "accepted",
            "user_ids": [a, b],
            "type": "task.assigned",
            "idempotency_key": "task-7-assigned",
        }
        await chat.settle()
        ((routing_key, event),) = chat.events.of_type("notification.requested")
        assert routing_key == "svc.notification.requested"
        assert event.data["user_ids"] == [a, b] and event.data["source"] == "tasks"
        assert (event.data["title"], event.data["link"]) == ("Task 7 is yours", "/tasks/7")
        assert event.data["data"] == {"task": 7}

    async def test_an_unknown_user_is_404_and_nothing_is_sent(self, chat: Chat) -> None:
        a = await make_user(chat, 1, "alice")
        key = await new_key(chat)
        before = await snapshot(chat)
        r = await chat.client.post(
            NOTIFY,
            json={"user_ids": [a, 999], "type": "task.assigned", "title": "t"},
            headers=kh(key),
        )
        assert refused(r, 404, "User not found", "user_not_found"), r.text
        assert await snapshot(chat) == before

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("type", "mention"),  # chat's own types have no dot: hosts cannot forge them
            ("type", "Task.Assigned"),
            ("link", "javascript:alert(1)"),
            ("data", {"blob": "x" * (16 * 1024)}),
            ("user_ids", []),
            ("title", ""),
        ],
    )
    async def test_invalid_fields_are_422(self, chat: Chat, field: str, value: Any) -> None:
        a = await make_user(chat, 1, "alice")
        key = await new_key(chat)
        before = await snapshot(chat)
        body = {"user_ids": [a], "type": "task.assigned", "title": "t", field: value}
        r = await chat.client.post(NOTIFY, json=body, headers=kh(key))
        assert invalid(r, field), r.text
        assert await snapshot(chat) == before

    async def test_end_user_tokens_cannot_notify(self, chat: Chat) -> None:
        a = await make_user(chat, 1, "alice")
        body = {"user_ids": [a], "type": "task.assigned", "title": "t"}
        r = await chat.call("POST", NOTIFY, a, json=body)
        assert r.status_code == 401 and r.json()["code"] == "integration_key_required"
        assert chat.events.of_type("notification.requested") == []


class TestKeyAdministration:
    async def test_bad_and_taken_names_and_revoking_twice(self, chat: Chat) -> None:
        async with chat_runtime(chat.app.state).sessionmaker() as session:
            for name in ("", "has space", "x" * 65, "slash/name"):
                with pytest.raises(BadRequest) as bad:
                    await keys.create(session, name)
                assert bad.value.code == "invalid_key_name", name
            await keys.create(session, "shop")
            with pytest.raises(keys.KeyNameTaken) as taken:
                await keys.create(session, "shop")
            assert taken.value.detail == "An integration key with this name already exists"
            assert [k.name for k in await keys.list_all(session)] == ["shop"]
            assert await keys.revoke(session, "shop")
            assert not await keys.revoke(session, "shop")
            assert not await keys.revoke(session, "nobody")
            await session.commit()
