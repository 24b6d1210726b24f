"""User search, the JWKS, the internal user lookups and the observability routes over HTTP."""

from __future__ import annotations

import httpx

from .conftest import INTERNAL_TOKEN, Users


class TestSearch:
    async def test_prefix_ignoring_case(self, client: httpx.AsyncClient, users: Users) -> None:
        _, auth = await users.register_and_login("searcher")
        a = await users.register("Anna")
        b = await users.register("annabel")
        await users.register("bob_a")
        r = await client.get("/users", params={"q": "ANN"}, headers=auth)
        assert r.status_code == 200
        assert r.json() == [
            {"id": a["id"], "username": "Anna"},
            {"id": b["id"], "username": "annabel"},
        ]

    async def test_excludes_the_caller_and_handles_wildcards(
        self, client: httpx.AsyncClient, users: Users
    ) -> None:
        _, auth = await users.register_and_login("wanda")
        await users.register("w_x")
        assert (await client.get("/users", params={"q": "wan"}, headers=auth)).json() == []
        assert (await client.get("/users", params={"q": "%"}, headers=auth)).json() == []
        found = (await client.get("/users", params={"q": "w_"}, headers=auth)).json()
        assert [u["username"] for u in found] == ["w_x"]
        assert (await client.get("/users", params={"q": ""}, headers=auth)).json() == []

    async def test_needs_a_token(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/users", params={"q": "a"})
        assert r.status_code == 401


class TestJwks:
    async def test_serves_the_signing_key(self, client: httpx.AsyncClient, users: Users) -> None:
        import jwt

        await users.register("xena")
        tokens = await users.login("xena")
        r = await client.get("/.well-known/jwks.json")
        assert r.status_code == 200
        keys = r.json()["keys"]
        kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
        key = next(k for k in keys if k["kid"] == kid)
        assert key["kty"] == "OKP"
        assert key["crv"] == "Ed25519"
        assert key["alg"] == "EdDSA"
        assert "d" not in key  # never the private part


class TestInternalUsers:
    async def test_users_by_id(self, client: httpx.AsyncClient, users: Users) -> None:
        a = await users.register("yara")
        b = await users.register("zack")
        r = await client.get(
            "/internal/users",
            params={"ids": f"{b['id']},{a['id']},999999"},
            headers={"X-Parley-Service-Token": INTERNAL_TOKEN},
        )
        assert r.status_code == 200
        body = r.json()
        assert [u["id"] for u in body] == [a["id"], b["id"]]
        assert set(body[0]) == {"id", "username", "email", "avatar_url", "created_at"}

    async def test_needs_the_service_token(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/internal/users", params={"ids": "1"})
        assert r.status_code == 403
        r = await client.get(
            "/internal/users", params={"ids": "1"}, headers={"X-Parley-Service-Token": "nope"}
        )
        assert r.status_code == 403

    async def test_bad_ids(self, client: httpx.AsyncClient) -> None:
        r = await client.get(
            "/internal/users",
            params={"ids": "1,x"},
            headers={"X-Parley-Service-Token": INTERNAL_TOKEN},
        )
        assert r.status_code == 400


class TestObservability:
    async def test_ready(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/readyz")
        assert r.status_code == 200
        assert r.json()["checks"] == {"database": True, "store": True, "bus": True}
