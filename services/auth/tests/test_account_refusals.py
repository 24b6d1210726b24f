"""Auth's refusals and no-ops that the other files do not walk: an expired refresh token, a
token of a deleted account, a profile update that changes nothing, names that grow past the
limit when normalised, and the internal lookup's bounds. Each changes nothing it should not."""

from __future__ import annotations

from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import delete, func, select, update

from auth.config import Settings
from auth.main import create_app
from auth.models import OUTBOX as outbox
from auth.models import LoginSession, RefreshToken, User
from auth.runtime import auth_runtime

from .conftest import INTERNAL_TOKEN, PASSWORD, Users, bearer

SERVICE = {"X-Parley-Service-Token": INTERNAL_TOKEN}


async def outbox_types(app: FastAPI) -> list[str]:
    async with auth_runtime(app.state).sessionmaker() as session:
        return list(await session.scalars(select(outbox.c.event_type).order_by(outbox.c.id)))


async def execute(app: FastAPI, statement: Any) -> None:
    async with auth_runtime(app.state).sessionmaker() as session:
        await session.execute(statement)
        await session.commit()


class TestExpiredRefreshToken:
    async def test_is_refused_without_spending_the_token_or_ending_the_session(
        self, app: FastAPI, client: httpx.AsyncClient, users: Users
    ) -> None:
        await users.register("expiring")
        tokens = await users.login("expiring")
        await execute(app, update(RefreshToken).values(expires_at=func.now()))
        events = await outbox_types(app)
        for _ in range(2):  # twice: an expired token is not "reused", the family stays
            r = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            assert (r.status_code, r.json()["detail"], r.json()["code"]) == (
                401,
                "Invalid refresh token",
                "invalid_refresh_token",
            )
        async with auth_runtime(app.state).sessionmaker() as session:
            assert await session.scalar(select(RefreshToken.rotated_at)) is None
        assert await outbox_types(app) == events  # no session.revoked
        me = await client.get("/auth/me", headers=bearer(tokens["access_token"]))
        assert me.status_code == 200


class TestDeletedAccount:
    async def test_its_tokens_stop_working(
        self, app: FastAPI, client: httpx.AsyncClient, users: Users
    ) -> None:
        user = await users.register("leaving")
        tokens = await users.login("leaving")
        await execute(app, delete(User).where(User.id == user["id"]))
        for path in ("/auth/me", "/users/me"):
            r = await client.get(path, headers=bearer(tokens["access_token"]))
            assert (r.status_code, r.json()["detail"]) == (401, "Could not validate credentials")
            assert r.json()["code"] == "invalid_token"
        r = await client.put(
            "/users/me", json={"username": "revived"}, headers=bearer(tokens["access_token"])
        )
        assert r.status_code == 401
        r = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert (r.status_code, r.json()["detail"]) == (401, "Invalid refresh token")
        async with auth_runtime(app.state).sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(User)) == 0


class TestProfileNoOps:
    async def test_the_same_name_and_email_change_nothing_and_publish_nothing(
        self, app: FastAPI, client: httpx.AsyncClient, users: Users
    ) -> None:
        user, headers = await users.register_and_login("steady")
        events = await outbox_types(app)
        for body in (
            {"username": "steady", "email": user["email"]},
            {"username": "steady"},
            {},
        ):
            r = await client.put("/users/me", json=body, headers=headers)
            assert r.status_code == 200, body
            assert (r.json()["username"], r.json()["email"]) == ("steady", user["email"])
        assert await outbox_types(app) == events

    async def test_a_new_email_only_starts_the_change_when_the_name_is_the_same(
        self, app: FastAPI, client: httpx.AsyncClient, users: Users
    ) -> None:
        user = await users.register("mover")
        headers = bearer((await users.login("mover"))["access_token"])
        types_before = await outbox_types(app)
        r = await client.put(
            "/users/me", json={"username": "mover", "email": "new@example.com"}, headers=headers
        )
        assert r.status_code == 200
        body = r.json()
        # The address changes only when the link sent to the new one is used (email_change.py).
        assert (body["username"], body["email"]) == ("mover", user["email"])
        assert body["pending_email"] == "new@example.com"
        assert await outbox_types(app) == types_before  # nothing changed for anyone else yet


class TestNormalisedLength:
    async def test_a_name_that_grows_past_32_when_normalised_is_422(
        self, client: httpx.AsyncClient, users: Users
    ) -> None:
        # U+FDFA is one letter that NFKC expands to 18: 4 characters typed, 38 stored.
        name = "ab\ufdfa\ufdfa"
        r = await client.post(
            "/auth/register",
            json={"username": name, "email": "ligature@example.com", "password": "password1"},
        )
        assert r.status_code == 422
        assert "Username must be 3 to 32 characters long" in r.text
        _, headers = await users.register_and_login("short")
        r = await client.put("/users/me", json={"username": name}, headers=headers)
        assert r.status_code == 422
        me = await client.get("/users/me", headers=headers)
        assert me.json()["username"] == "short"


class TestInternalLookupBounds:
    async def test_ids_out_of_range_or_too_many_are_400(self, client: httpx.AsyncClient) -> None:
        for ids, detail in [
            (str(2**63), "ids must be 64-bit integers"),
            (",".join(str(i) for i in range(1, 502)), "At most 500 ids per call"),
        ]:
            r = await client.get("/internal/users", params={"ids": ids}, headers=SERVICE)
            assert (r.status_code, r.json()["detail"]) == (400, detail), ids
        r = await client.get("/internal/users", params={"ids": " , "}, headers=SERVICE)
        assert (r.status_code, r.json()) == (200, [])


class TestThrottleStoreDown:
    async def test_login_is_503_and_starts_no_session_while_redis_is_unreachable(
        self, settings: Settings
    ) -> None:
        down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:9/0"})
        app = create_app(down)
        async with (
            LifespanManager(app, startup_timeout=60, shutdown_timeout=60),
            httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as c,
        ):
            await Users(c).register("grounded")
            for password in (PASSWORD, "wrong password"):
                r = await c.post("/auth/login", json={"username": "grounded", "password": password})
                assert (r.status_code, r.json()["detail"]) == (
                    503,
                    "Login temporarily unavailable",
                ), password
            ready = await c.get("/readyz")
            assert ready.json()["checks"]["store"] is False
            async with auth_runtime(app.state).sessionmaker() as session:
                assert await session.scalar(select(func.count()).select_from(LoginSession)) == 0
