"""Every auth route over HTTP: shapes, statuses and PROTOCOL.md's detail texts."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI

from auth.runtime import auth_runtime

from .conftest import PASSWORD, Users, bearer


def assert_iso_with_zone(value: str) -> None:
    assert datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


class TestRegister:
    async def test_returns_the_user(self, client: httpx.AsyncClient) -> None:
        r = await client.post(
            "/auth/register",
            json={"username": "alice", "email": "alice@example.com", "password": "password1"},
        )
        assert r.status_code == 200
        body = r.json()
        assert set(body) == {"id", "username", "email", "avatar_url"}
        assert isinstance(body["id"], int)
        assert body["username"] == "alice"
        assert body["email"] == "alice@example.com"

    async def test_ignores_an_authorization_header(self, client: httpx.AsyncClient) -> None:
        r = await client.post(
            "/auth/register",
            json={"username": "bob", "email": "bob@example.com", "password": "password1"},
            headers=bearer("garbage"),
        )
        assert r.status_code == 200

    @pytest.mark.parametrize("name", ["Zoë", "Дмитрий", "李小龍", "user_1.a-b", "उमेश"])
    async def test_unicode_usernames(self, users: Users, name: str) -> None:
        user = await users.register(name)
        assert user["username"] == name
        tokens = await users.login(name)
        assert tokens["token_type"] == "bearer"

    async def test_username_is_nfc_normalised(self, users: Users) -> None:
        decomposed = "Zoe\u0308"  # "Zoë" with a combining diaeresis
        user = await users.register(decomposed)
        assert user["username"] == "Zo\u00eb"
        await users.login("zo\u00eb")

    async def test_duplicate_username_ignoring_case(
        self, client: httpx.AsyncClient, users: Users
    ) -> None:
        await users.register("Дмитрий")
        r = await client.post(
            "/auth/register",
            json={"username": "ДМИТРИЙ", "email": "other@example.com", "password": "password1"},
        )
        assert r.status_code == 400
        assert r.json()["detail"] == "Username already taken"

    async def test_duplicate_email_ignoring_case(
        self, client: httpx.AsyncClient, users: Users
    ) -> None:
        await users.register("carol", "carol@example.com")
        r = await client.post(
            "/auth/register",
            json={"username": "carol2", "email": "CAROL@Example.com", "password": "password1"},
        )
        assert r.status_code == 400
        assert r.json()["detail"] == "Email already registered"

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("username", "ab"),
            ("username", "a" * 33),
            ("username", "has space"),
            ("username", "at@sign"),
            ("username", "emoji🙂"),
            ("username", ""),
            ("email", "not-an-email"),
            ("password", "short"),
            ("password", "x" * 129),
        ],
    )
    async def test_invalid_fields_get_422(
        self, client: httpx.AsyncClient, field: str, value: str
    ) -> None:
        body = {"username": "validname", "email": "valid@example.com", "password": "password1"}
        body[field] = value
        r = await client.post("/auth/register", json=body)
        assert r.status_code == 422
        detail = r.json()["detail"]
        assert isinstance(detail, list)
        assert detail[0]["loc"] == ["body", field]
        assert {"type", "loc", "msg"} <= set(detail[0])

    async def test_missing_fields_get_422(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/auth/register", json={"username": "someone"})
        assert r.status_code == 422
        assert {tuple(e["loc"]) for e in r.json()["detail"]} == {
            ("body", "email"),
            ("body", "password"),
        }

    async def test_boundaries_are_accepted(self, users: Users) -> None:
        await users.register("abc", password="p" * 8)
        await users.register("a" * 32, password="p" * 128)


class TestLogin:
    async def test_token_shape(self, client: httpx.AsyncClient, users: Users) -> None:
        await users.register("dave")
        r = await client.post("/auth/login", json={"username": "dave", "password": PASSWORD})
        assert r.status_code == 200
        body = r.json()
        assert set(body) == {"access_token", "token_type", "refresh_token", "expires_in"}
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 3600
        for token in (body["access_token"], body["refresh_token"]):
            # URL-path safe: base64url characters and the JWT's dots only
            assert all(c.isalnum() or c in "-_." for c in token), token

    async def test_login_with_email_ignoring_case(
        self, client: httpx.AsyncClient, users: Users
    ) -> None:
        await users.register("erin", "Erin@Example.com")
        r = await client.post(
            "/auth/login", json={"username": "erin@example.COM", "password": PASSWORD}
        )
        assert r.status_code == 200

    async def test_username_ignoring_case(self, users: Users) -> None:
        await users.register("Frank")
        await users.login("FRANK")

    async def test_token_alias_with_json(self, client: httpx.AsyncClient, users: Users) -> None:
        await users.register("gina")
        r = await client.post("/auth/token", json={"username": "gina", "password": PASSWORD})
        assert r.status_code == 200
        assert r.json()["token_type"] == "bearer"

    async def test_token_alias_with_oauth2_form(
        self, client: httpx.AsyncClient, users: Users
    ) -> None:
        await users.register("hank")
        r = await client.post(
            "/auth/token",
            data={"grant_type": "password", "username": "hank", "password": PASSWORD},
        )
        assert r.status_code == 200
        assert r.json()["access_token"]

    async def test_wrong_password(self, client: httpx.AsyncClient, users: Users) -> None:
        await users.register("ivan")
        r = await client.post("/auth/login", json={"username": "ivan", "password": "wrong-pass"})
        assert r.status_code == 401
        assert r.json()["detail"] == "Invalid credentials"

    async def test_unknown_user(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/auth/login", json={"username": "nobody", "password": "whatever1"})
        assert r.status_code == 401
        assert r.json()["detail"] == "Invalid credentials"

    async def test_missing_password_is_422(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/auth/login", json={"username": "nobody"})
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "password"]

    async def test_bad_json_is_422(self, client: httpx.AsyncClient) -> None:
        r = await client.post(
            "/auth/login", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 422
        assert isinstance(r.json()["detail"], list)

    async def test_outdated_hash_is_rehashed(
        self, app: FastAPI, client: httpx.AsyncClient, users: Users
    ) -> None:
        from auth.models import User
        from auth.passwords import PasswordHasher

        user = await users.register("judy")
        old = await PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1).hash(PASSWORD)
        maker = auth_runtime(app.state).sessionmaker
        async with maker() as session, session.begin():
            row = await session.get_one(User, user["id"])
            row.password_hash = old
        await users.login("judy")
        async with maker() as session:
            stored = (await session.get_one(User, user["id"])).password_hash
        assert stored != old
        assert "m=1024,t=1,p=1" in stored


class TestMe:
    @pytest.mark.parametrize("path", ["/auth/me", "/users/me"])
    async def test_shape(self, client: httpx.AsyncClient, users: Users, path: str) -> None:
        user, auth = await users.register_and_login("kate")
        r = await client.get(path, headers=auth)
        assert r.status_code == 200
        body = r.json()
        # PROTOCOL.md's fields, and whether the address is confirmed (issue 17).
        assert set(body) == {
            "id",
            "username",
            "email",
            "avatar_url",
            "created_at",
            "email_verified",
            "pending_email",
        }
        assert body["id"] == user["id"] and body["email_verified"] is False
        assert body["pending_email"] is None
        assert_iso_with_zone(body["created_at"])

    async def test_missing_header(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/auth/me")
        assert r.status_code == 401
        assert r.json()["detail"] == "Not authenticated"


class TestUpdateMe:
    async def test_changes_name_and_email(self, client: httpx.AsyncClient, users: Users) -> None:
        user, auth = await users.register_and_login("leo")
        r = await client.put(
            "/users/me", json={"username": "Léo", "email": "leo@new.example.com"}, headers=auth
        )
        assert r.status_code == 200
        body = r.json()
        assert body["id"] == user["id"]
        assert body["username"] == "Léo"
        # A new address waits for its confirmation link (test_email_change.py).
        assert (body["email"], body["pending_email"]) == (user["email"], "leo@new.example.com")
        assert_iso_with_zone(body["created_at"])
        assert (await client.get("/users/me", headers=auth)).json()["username"] == "Léo"
        await users.login("léo")

    async def test_own_name_in_other_case_is_fine(
        self, client: httpx.AsyncClient, users: Users
    ) -> None:
        _, auth = await users.register_and_login("mia")
        r = await client.put("/users/me", json={"username": "MIA"}, headers=auth)
        assert r.status_code == 200
        assert r.json()["username"] == "MIA"

    async def test_taken_username(self, client: httpx.AsyncClient, users: Users) -> None:
        await users.register("nina")
        _, auth = await users.register_and_login("omar")
        r = await client.put("/users/me", json={"username": "NINA"}, headers=auth)
        assert r.status_code == 400
        assert r.json()["detail"] == "Username already exists"

    async def test_taken_email(self, client: httpx.AsyncClient, users: Users) -> None:
        await users.register("pia", "pia@example.com")
        _, auth = await users.register_and_login("quinn")
        r = await client.put("/users/me", json={"email": "PIA@example.com"}, headers=auth)
        assert r.status_code == 400
        assert r.json()["detail"] == "Email already exists"

    async def test_invalid_fields(self, client: httpx.AsyncClient, users: Users) -> None:
        _, auth = await users.register_and_login("rita")
        r = await client.put("/users/me", json={"username": "x"}, headers=auth)
        assert r.status_code == 422
        r = await client.put("/users/me", json={"email": "nope"}, headers=auth)
        assert r.status_code == 422

    async def test_needs_a_token(self, client: httpx.AsyncClient) -> None:
        r = await client.put("/users/me", json={"username": "whoever"})
        assert r.status_code == 401
        assert r.json()["detail"] == "Not authenticated"


class TestChangePassword:
    async def test_success(self, client: httpx.AsyncClient, users: Users) -> None:
        _, auth = await users.register_and_login("sam")
        r = await client.put(
            "/users/me/password",
            json={"current_password": PASSWORD, "new_password": "brand-new-pass"},
            headers=auth,
        )
        assert r.status_code == 200
        body = r.json()
        assert body["status"] == "success"
        assert isinstance(body["message"], str)
        await users.login("sam", "brand-new-pass")
        r = await client.post("/auth/login", json={"username": "sam", "password": PASSWORD})
        assert r.status_code == 401

    async def test_wrong_current_password(self, client: httpx.AsyncClient, users: Users) -> None:
        _, auth = await users.register_and_login("tia")
        r = await client.put(
            "/users/me/password",
            json={"current_password": "not-it-at-all", "new_password": "brand-new-pass"},
            headers=auth,
        )
        assert r.status_code == 400
        assert r.json()["detail"] == "Current password is incorrect"

    async def test_short_new_password(self, client: httpx.AsyncClient, users: Users) -> None:
        _, auth = await users.register_and_login("uma")
        r = await client.put(
            "/users/me/password",
            json={"current_password": PASSWORD, "new_password": "short"},
            headers=auth,
        )
        assert r.status_code == 422

    async def test_other_sessions_end(self, client: httpx.AsyncClient, users: Users) -> None:
        await users.register("vic")
        mine = await users.login("vic")
        other = await users.login("vic")
        r = await client.put(
            "/users/me/password",
            json={"current_password": PASSWORD, "new_password": "brand-new-pass"},
            headers=bearer(mine["access_token"]),
        )
        assert r.status_code == 200
        r = await client.post("/auth/refresh", json={"refresh_token": other["refresh_token"]})
        assert r.status_code == 401
        r = await client.post("/auth/refresh", json={"refresh_token": mine["refresh_token"]})
        assert r.status_code == 200
