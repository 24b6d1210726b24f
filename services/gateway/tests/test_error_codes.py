"""Error frames carry only PROTOCOL.md's codes (bad_request, forbidden, not_found,
rate_limited, unavailable); chat's detail text is kept verbatim, its own code in `reason`."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from gateway.ws.chat_calls import error_from_response

from .conftest import Env, connected, recv_until

PROTOCOL_CODES = {"bad_request", "forbidden", "not_found", "rate_limited", "unavailable"}


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (400, {"detail": "Username is required", "code": "bad_request"}, "bad_request"),
        (409, {"detail": "Conflict", "code": "conflict"}, "bad_request"),
        (413, {"detail": "Too large", "code": "payload_too_large"}, "bad_request"),
        (422, {"detail": [{"loc": ["content"], "msg": "too long"}]}, "bad_request"),
        (401, {"detail": "Could not validate credentials", "code": "unauthorized"}, "forbidden"),
        (403, {"detail": "You cannot message this user", "code": "blocked"}, "forbidden"),
        (404, {"detail": "Conversation not found", "code": "conversation_not_found"}, "not_found"),
        (429, {"detail": "Slow down", "code": "rate_limited", "retry_after": 3}, "rate_limited"),
        (500, {"detail": "boom"}, "unavailable"),
        (503, {"detail": "down"}, "unavailable"),
    ],
)
def test_http_status_maps_to_a_protocol_code(status: int, body: dict[str, Any], code: str) -> None:
    frame = error_from_response(httpx.Response(status, json=body))
    data = frame.model_dump(mode="json")
    assert data["code"] == code
    if status < 500:
        assert data["detail"] == body["detail"]  # verbatim
    if body.get("code") and body["code"] != code and status < 500:
        assert data["reason"] == body["code"]
    else:
        assert "reason" not in data
    if code in ("rate_limited", "unavailable"):
        assert data["retry_after"] > 0


async def test_blocked_send_is_forbidden_with_chats_detail(env: Env) -> None:
    env.chat.add_conversation(9, {1, 2})
    env.chat.blocked.add((1, 9))
    ws = await env.connect(1)
    await connected(ws)
    await ws.send(
        json.dumps(
            {"type": "send_message", "conversation_id": 9, "content": "hi", "client_msg_id": "c1"}
        )
    )
    error = await recv_until(ws, "error")
    assert error["code"] == "forbidden" and error["code"] in PROTOCOL_CODES
    assert error["detail"] == "You cannot message this user"
    assert error["reason"] == "blocked" and error["client_msg_id"] == "c1"


async def test_bad_auth_frame_token_is_forbidden(env: Env) -> None:
    ws = await env.connect(1)
    await connected(ws)
    await ws.send(json.dumps({"type": "auth", "token": "not-a-token"}))
    error = await recv_until(ws, "error")
    assert error["code"] == "forbidden"
