"""GET /auth/sessions and ending sessions from it: one, or every other one."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from .conftest import PASSWORD, Users, bearer
from .test_sessions import revoked_events


async def login_from(client: httpx.AsyncClient, username: str, agent: str) -> dict[str, Any]:
    r = await client.post(
        "/auth/login",
        json={"username": username, "password": PASSWORD},
        headers={"User-Agent": agent},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


async def sessions(client: httpx.AsyncClient, tokens: dict[str, Any]) -> list[dict[str, Any]]:
    r = await client.get("/auth/sessions", headers=bearer(tokens["access_token"]))
    assert r.status_code == 200, r.text
    return list(r.json())


async def test_a_user_sees_their_sessions_and_ends_one(
    client: httpx.AsyncClient, users: Users, app: FastAPI
) -> None:
    await users.register("ana")
    laptop = await login_from(client, "ana", "Firefox on Linux")
    phone = await login_from(client, "ana", "Parley iOS 2.1")
    await users.register("ben")
    ben = await login_from(client, "ben", "Chrome")

    listed = await sessions(client, laptop)
    assert [(s["user_agent"], s["current"]) for s in listed] == [
        ("Parley iOS 2.1", False),  # most recently used first
        ("Firefox on Linux", True),
    ]
    assert all(s["address"] and s["created_at"] and s["last_used_at"] for s in listed)
    phone_sid = listed[0]["id"]

    # Another user cannot see or end ana's sessions.
    assert [s["user_agent"] for s in await sessions(client, ben)] == ["Chrome"]
    r = await client.delete(f"/auth/sessions/{phone_sid}", headers=bearer(ben["access_token"]))
    assert r.status_code == 404 and r.json()["code"] == "session_not_found"
    assert len(await sessions(client, laptop)) == 2

    r = await client.delete(f"/auth/sessions/{phone_sid}", headers=bearer(laptop["access_token"]))
    assert r.status_code == 200
    assert [s["user_agent"] for s in await sessions(client, laptop)] == ["Firefox on Linux"]
    refused = await client.post("/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert refused.status_code == 401
    assert [e["data"]["sid"] for _, e in await revoked_events(app)] == [phone_sid]
    again = await client.delete(
        f"/auth/sessions/{phone_sid}", headers=bearer(laptop["access_token"])
    )
    assert again.status_code == 404


async def test_ending_every_other_session_keeps_this_one(
    client: httpx.AsyncClient, users: Users, app: FastAPI
) -> None:
    await users.register("ana")
    here = await login_from(client, "ana", "here")
    for agent in ("tablet", "phone", "old laptop"):
        await login_from(client, "ana", agent)
    r = await client.post("/auth/sessions/revoke-others", headers=bearer(here["access_token"]))
    assert r.status_code == 200 and r.json() == {"status": "ok", "revoked": 3}
    assert [(s["user_agent"], s["current"]) for s in await sessions(client, here)] == [
        ("here", True)
    ]
    assert len(await revoked_events(app)) == 3
    refreshed = await client.post("/auth/refresh", json={"refresh_token": here["refresh_token"]})
    assert refreshed.status_code == 200
    r = await client.post("/auth/sessions/revoke-others", headers=bearer(here["access_token"]))
    assert r.json()["revoked"] == 0
