"""Refresh rotation, reuse detection and logout; each ending publishes session.revoked."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from auth.models import OUTBOX as outbox
from auth.runtime import auth_runtime

from .conftest import Users, bearer


async def revoked_events(app: FastAPI) -> list[tuple[str, dict[str, Any]]]:
    async with auth_runtime(app.state).sessionmaker() as session:
        rows = (
            await session.execute(
                select(outbox.c.routing_key, outbox.c.payload)
                .where(outbox.c.event_type == "session.revoked")
                .order_by(outbox.c.id)
            )
        ).all()
    return [(key, json.loads(payload)) for key, payload in rows]


def sid_of(access_token: str) -> str:
    import jwt

    return str(jwt.decode(access_token, options={"verify_signature": False})["sid"])


class TestRefresh:
    async def test_rotates(self, client: httpx.AsyncClient, users: Users) -> None:
        user = await users.register("rotor")
        first = await users.login("rotor")
        r = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert r.status_code == 200
        second = r.json()
        assert set(second) == {"access_token", "token_type", "refresh_token", "expires_in"}
        assert second["token_type"] == "bearer"
        assert second["refresh_token"] != first["refresh_token"]
        assert sid_of(second["access_token"]) == sid_of(first["access_token"])
        me = await client.get("/auth/me", headers=bearer(second["access_token"]))
        assert me.json()["id"] == user["id"]

    async def test_reuse_revokes_the_family(
        self, app: FastAPI, client: httpx.AsyncClient, users: Users
    ) -> None:
        user = await users.register("leaky")
        first = await users.login("leaky")
        bystander = await users.login("leaky")  # another device: a different family
        r = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        newest = r.json()["refresh_token"]

        r = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert r.status_code == 401
        # The newest token of the family stops working too...
        r = await client.post("/auth/refresh", json={"refresh_token": newest})
        assert r.status_code == 401
        # ...but the user's other login does not.
        r = await client.post("/auth/refresh", json={"refresh_token": bystander["refresh_token"]})
        assert r.status_code == 200

        events = await revoked_events(app)
        sid = sid_of(first["access_token"])
        assert events == [
            (f"user.{user['id']}.session.revoked", events[0][1]),
        ]
        data = events[0][1]["data"]
        assert {k: data[k] for k in ("user_id", "sid")} == {"user_id": user["id"], "sid": sid}
        # Gateways refuse the session's access tokens until the last one expires.
        until = datetime.fromisoformat(data["access_until"])
        assert abs((until - datetime.now(UTC)).total_seconds() - 3600) < 60
        assert events[0][1]["type"] == "session.revoked"

    async def test_unknown_token(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/auth/refresh", json={"refresh_token": "not-a-real-token"})
        assert r.status_code == 401
        r = await client.post("/auth/refresh", json={})
        assert r.status_code == 422


class TestLogout:
    async def test_revokes_the_family(
        self, app: FastAPI, client: httpx.AsyncClient, users: Users
    ) -> None:
        user = await users.register("leaver")
        tokens = await users.login("leaver")
        r = await client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 200
        assert r.json() == {"status": "ok"}
        r = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 401
        events = await revoked_events(app)
        assert [key for key, _ in events] == [f"user.{user['id']}.session.revoked"]
        assert events[0][1]["data"]["sid"] == sid_of(tokens["access_token"])

    async def test_twice_and_unknown_are_ok(
        self, app: FastAPI, client: httpx.AsyncClient, users: Users
    ) -> None:
        await users.register("twice")
        tokens = await users.login("twice")
        for token in (tokens["refresh_token"], tokens["refresh_token"], "unknown-token"):
            r = await client.post("/auth/logout", json={"refresh_token": token})
            assert r.status_code == 200
            assert r.json() == {"status": "ok"}
        assert len(await revoked_events(app)) == 1
