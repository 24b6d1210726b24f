"""The live path's internal routes answer in front of FastAPI (parley_common.internal_fast_path);
a request the route would refuse still gets the route's own answer, and nothing changes."""

from __future__ import annotations

from typing import Any

import pytest

from parley_common.internal import SERVICE_TOKEN_HEADER
from parley_common.testing.factories import make_friends, make_user
from parley_common.testing.harness import INTERNAL_TOKEN

from .conftest import Chat, snapshot

SERVICE = {SERVICE_TOKEN_HEADER: INTERNAL_TOKEN}


async def test_a_lookup_is_answered_and_timed_by_route(chat: Chat) -> None:
    a = await make_user(chat, 1, "alice")
    b = await make_user(chat, 2, "bob")
    await make_friends(chat, a, b)
    r = await chat.client.post("/internal/users/lookup", json={"user_ids": [a]}, headers=SERVICE)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"users": {str(a): {"friend_ids": [b], "conversation_ids": []}}}
    metrics = (await chat.client.get("/metrics", headers=SERVICE)).text
    assert (
        'parley_http_request_duration_seconds_count{method="POST",route="/internal/users/lookup",'
        'service="chat",status="200"}' in metrics
    )


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        # Invalid for the model: the route's 422, in Parley's error shape.
        ('{"sends": "not a list"}', {"content-type": "application/json"}, 422),
        ('{"sends": [{"sender_id": 0}]}', {"content-type": "application/json"}, 422),
        ("not json", {"content-type": "application/json"}, 422),
        # What the request guard refuses: NUL in a string, nesting beyond its limit.
        (
            '{"sends": [{"sender_id": 1, "conversation_id": 1, "content": "a\\u0000b"}]}',
            {"content-type": "application/json"},
            422,
        ),
        ('{"sends": ' + "[" * 100 + "]" * 100 + "}", {"content-type": "application/json"}, 400),
        # Not declared JSON, no token, a wrong token: the app's refusals.
        ('{"sends": []}', {"content-type": "text/plain"}, 422),
        ('{"sends": []}', {"content-type": "application/json", SERVICE_TOKEN_HEADER: ""}, 403),
        ('{"sends": []}', {"content-type": "application/json", SERVICE_TOKEN_HEADER: "x"}, 403),
    ],
)
async def test_what_the_route_refuses_gets_the_routes_answer(
    chat: Chat, body: str, headers: dict[str, str], status: int
) -> None:
    before = await snapshot(chat)
    r = await chat.client.post("/internal/messages", content=body, headers=SERVICE | headers)
    assert r.status_code == status, r.text
    answer: dict[str, Any] = r.json()
    assert answer["detail"] and answer["code"], answer
    assert await snapshot(chat) == before
