"""Bad input gets a 4xx, never a 5xx (issue 12, finding 4 and 5), on real PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from parley_common.testing.factories import make_direct, make_friends, make_user

BIG = "99999999999999999999"  # above int64: once a 5xx from PostgreSQL (gateway: 502)
# Every route of chat that takes an id, cursor or offset, with a value above int64.
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", f"/conversations/{BIG}", None),
    ("PUT", f"/conversations/{BIG}", {"name": "x"}),
    ("PUT", f"/conversations/{BIG}/settings", {"allow_member_add": True}),
    ("GET", f"/conversations/{BIG}/members", None),
    ("POST", f"/conversations/{BIG}/members", {"user_id": 2}),
    ("POST", "/conversations/1/members", {"user_id": int(BIG)}),
    ("DELETE", f"/conversations/{BIG}/members/2", None),
    ("DELETE", f"/conversations/1/members/{BIG}", None),
    ("DELETE", f"/conversations/{BIG}/leave", None),
    ("PUT", f"/conversations/{BIG}/transfer-admin", {"new_admin_id": 2}),
    ("PUT", "/conversations/1/transfer-admin", {"new_admin_id": int(BIG)}),
    ("POST", f"/conversations/{BIG}/read", {"seq": 1}),
    ("POST", "/conversations/1/read", {"seq": int(BIG)}),
    ("POST", f"/conversations/{BIG}/delivered", {"seq": 1}),
    ("GET", f"/conversations/{BIG}/receipts", None),
    ("GET", f"/conversations/{BIG}/messages", None),
    ("GET", f"/conversations/1/messages?after_seq={BIG}", None),
    ("GET", f"/conversations/1/messages?before_seq={BIG}", None),
    ("GET", f"/conversations?before={BIG}", None),
    ("POST", "/conversations", {"type": "direct", "member_user_ids": [int(BIG)]}),
    ("POST", "/conversations/groups", {"name": "g", "member_user_ids": [int(BIG)]}),
    ("GET", f"/messages/conversation/{BIG}", None),
    ("GET", f"/messages/conversation/1?skip={BIG}", None),
    ("GET", f"/messages/search?q=x&conversation_id={BIG}", None),
    ("POST", "/messages", {"conversation_id": int(BIG), "content": "x"}),
    ("POST", "/messages", {"conversation_id": 1, "content": "x", "reply_to": int(BIG)}),
    ("PATCH", f"/messages/{BIG}", {"content": "x"}),
    ("DELETE", f"/messages/{BIG}", None),
    ("PUT", f"/messages/{BIG}/reactions/x", None),
    ("PUT", f"/friends/requests/{BIG}/accept", None),
    ("PUT", f"/friends/requests/{BIG}/reject", None),
    ("DELETE", f"/friends/requests/{BIG}", None),
    ("DELETE", f"/friends/{BIG}", None),
    ("POST", "/blocks", {"user_id": int(BIG)}),
    ("DELETE", f"/blocks/{BIG}", None),
]


class TestIntegersAboveInt64:
    @pytest.mark.parametrize(("method", "path", "body"), ROUTES)
    async def test_refused_with_422(
        self, chat: Any, method: str, path: str, body: dict[str, Any] | None
    ) -> None:
        await make_user(chat, 1)
        r = (
            await chat.call(method, path, 1, json=body)
            if body
            else await chat.call(method, path, 1)
        )
        assert r.status_code == 422, (method, path, r.status_code, r.text)


class TestInvalidUnicode:
    @pytest.mark.parametrize("content", ["\ud800", "a\udfffb", "nul\x00here"])
    async def test_content_with_lone_surrogate_or_nul_is_422(self, chat: Any, content: str) -> None:
        a, b = await make_user(chat, 1), await make_user(chat, 2)
        await make_friends(chat, a, b)
        conv = await make_direct(chat, a, b)
        raw = json.dumps({"conversation_id": conv["id"], "content": content})  # \\ud800 escapes
        r = await chat.call(
            "POST", "/messages", a, content=raw, headers={"content-type": "application/json"}
        )
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["type"] == "string_unicode"
        assert (await chat.ok("GET", f"/conversations/{conv['id']}", a))["last_seq"] == 0

    async def test_a_surrogate_pair_is_fine(self, chat: Any) -> None:
        a, b = await make_user(chat, 1), await make_user(chat, 2)
        await make_friends(chat, a, b)
        conv = await make_direct(chat, a, b)
        raw = json.dumps({"conversation_id": conv["id"], "content": "smile \U0001f600"})
        r = await chat.call(
            "POST", "/messages", a, content=raw, headers={"content-type": "application/json"}
        )
        assert r.status_code == 200 and r.json()["content"] == "smile \U0001f600"

    async def test_body_that_is_not_utf8_is_422(self, chat: Any) -> None:
        await make_user(chat, 1)
        r = await chat.call(
            "POST",
            "/messages",
            1,
            content=b'{"content": "\xff"}',
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 422

    async def test_nul_in_path_or_query_is_422(self, chat: Any) -> None:
        await make_user(chat, 1)
        assert (await chat.call("PUT", "/messages/1/reactions/%00", 1)).status_code == 422
        assert (await chat.call("GET", "/messages/search?q=a%00b", 1)).status_code == 422


class TestJsonDepthAndSize:
    async def test_deeply_nested_json_is_400(self, chat: Any) -> None:
        await make_user(chat, 1)
        deep = "[" * 100_000 + "]" * 100_000
        r = await chat.call(
            "POST", "/messages", 1, content=deep, headers={"content-type": "application/json"}
        )
        assert r.status_code == 400 and "nested" in r.json()["detail"]

    async def test_body_over_the_limit_is_413(self, chat: Any) -> None:
        await make_user(chat, 1)
        body = json.dumps({"conversation_id": 1, "content": "x" * (2 * 1024 * 1024)})
        r = await chat.call(
            "POST", "/messages", 1, content=body, headers={"content-type": "application/json"}
        )
        assert r.status_code == 413 and r.json()["code"] == "too_large"


class TestRequestId:
    async def test_non_utf8_request_id_is_replaced(self, chat: Any) -> None:
        await make_user(chat, 1)
        r = await chat.call("GET", "/conversations", 1, headers={"X-Request-ID": b"\xff\xfe"})
        assert r.status_code == 200
        assert r.headers["x-request-id"].isalnum()

    async def test_plain_request_id_is_kept(self, chat: Any) -> None:
        await make_user(chat, 1)
        r = await chat.call("GET", "/conversations", 1, headers={"X-Request-ID": "req-42"})
        assert r.headers["x-request-id"] == "req-42"
