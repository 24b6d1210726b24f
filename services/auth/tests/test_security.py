"""Forged and broken access tokens, login throttling, and compatibility with JWTVerifier."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from auth.runtime import auth_runtime
from parley_common.jwt_verify import JWTVerifier

from .conftest import INTERNAL_TOKEN, Users, bearer


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: dict[str, Any]) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def claims_for(user: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": str(user["id"]),
        "id": user["id"],
        "username": user["username"],
        "sid": uuid.uuid4().hex,
        "iss": "parley",
        "aud": "parley",
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return claims


def sign(app: FastAPI, claims: dict[str, Any]) -> str:
    """Signed with the service's real key: only the claims are wrong."""
    key = auth_runtime(app.state).parts.keyring.current
    return jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid})


class TestForgedTokens:
    @pytest.fixture
    async def user(self, users: Users) -> dict[str, Any]:
        return await users.register("mallory")

    async def assert_rejected(self, client: httpx.AsyncClient, token: str) -> None:
        r = await client.get("/auth/me", headers=bearer(token))
        assert r.status_code == 401
        assert r.json()["detail"] == "Could not validate credentials"
        assert r.headers["www-authenticate"] == "Bearer"

    async def test_a_good_token_passes(
        self, app: FastAPI, client: httpx.AsyncClient, user: dict[str, Any]
    ) -> None:
        r = await client.get("/auth/me", headers=bearer(sign(app, claims_for(user))))
        assert r.status_code == 200

    async def test_alg_none(
        self, app: FastAPI, client: httpx.AsyncClient, user: dict[str, Any]
    ) -> None:
        kid = auth_runtime(app.state).parts.keyring.current.kid
        token = f"{segment({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{segment(claims_for(user))}."
        await self.assert_rejected(client, token)

    async def test_hs256_signed_with_the_public_key(
        self, app: FastAPI, client: httpx.AsyncClient, user: dict[str, Any]
    ) -> None:
        jwk = (await client.get("/.well-known/jwks.json")).json()["keys"][0]
        header = segment({"alg": "HS256", "typ": "JWT", "kid": jwk["kid"]})
        body = segment(claims_for(user))
        for secret in (jwk["x"].encode(), json.dumps(jwk).encode()):
            mac = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
            await self.assert_rejected(client, f"{header}.{body}.{b64(mac)}")

    async def test_wrong_issuer(
        self, app: FastAPI, client: httpx.AsyncClient, user: dict[str, Any]
    ) -> None:
        await self.assert_rejected(client, sign(app, claims_for(user, iss="someone-else")))

    async def test_wrong_audience(
        self, app: FastAPI, client: httpx.AsyncClient, user: dict[str, Any]
    ) -> None:
        await self.assert_rejected(client, sign(app, claims_for(user, aud="other-app")))

    async def test_expired(
        self, app: FastAPI, client: httpx.AsyncClient, user: dict[str, Any]
    ) -> None:
        past = int(time.time()) - 120
        token = sign(app, claims_for(user, iat=past - 600, exp=past))
        await self.assert_rejected(client, token)

    async def test_missing_required_claim(
        self, app: FastAPI, client: httpx.AsyncClient, user: dict[str, Any]
    ) -> None:
        claims = claims_for(user)
        del claims["sid"]
        await self.assert_rejected(client, sign(app, claims))

    async def test_unknown_kid(self, client: httpx.AsyncClient, user: dict[str, Any]) -> None:
        stranger = Ed25519PrivateKey.generate()
        token = jwt.encode(
            claims_for(user), stranger, algorithm="EdDSA", headers={"kid": "not-a-known-kid"}
        )
        await self.assert_rejected(client, token)

    async def test_foreign_key_with_our_kid(
        self, app: FastAPI, client: httpx.AsyncClient, user: dict[str, Any]
    ) -> None:
        stranger = Ed25519PrivateKey.generate()
        kid = auth_runtime(app.state).parts.keyring.current.kid
        token = jwt.encode(claims_for(user), stranger, algorithm="EdDSA", headers={"kid": kid})
        await self.assert_rejected(client, token)

    async def test_tampered_signature(
        self, app: FastAPI, client: httpx.AsyncClient, user: dict[str, Any]
    ) -> None:
        header, body, signature = sign(app, claims_for(user)).split(".")
        middle = len(signature) // 2
        flipped = "A" if signature[middle] != "A" else "B"
        tampered = signature[:middle] + flipped + signature[middle + 1 :]
        await self.assert_rejected(client, f"{header}.{body}.{tampered}")

    async def test_tampered_claims(
        self, app: FastAPI, client: httpx.AsyncClient, user: dict[str, Any]
    ) -> None:
        header, _, signature = sign(app, claims_for(user)).split(".")
        forged_body = segment(claims_for(user, sub="999", id=999))
        await self.assert_rejected(client, f"{header}.{forged_body}.{signature}")

    @pytest.mark.parametrize("token", ["garbage", "a.b.c", "Bearer"])
    async def test_garbage(self, client: httpx.AsyncClient, token: str) -> None:
        await self.assert_rejected(client, token)

    async def test_missing_header(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/auth/me")
        assert r.status_code == 401
        assert r.json()["detail"] == "Not authenticated"


class TestVerifierCompatibility:
    async def test_other_services_verify_auth_tokens(self, app: FastAPI, users: Users) -> None:
        """The token verifies with parley_common's JWTVerifier against the served JWKS,
        the way chat, notify and the gateway check it."""
        user = await users.register("Дмитрий")
        tokens = await users.login("дмитрий")
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://auth")
        async with http:
            verifier = JWTVerifier(
                "http://auth/.well-known/jwks.json", issuer="parley", audience="parley", http=http
            )
            claims = await verifier.verify(tokens["access_token"])
        assert claims.user_id == user["id"]
        assert claims.username == "Дмитрий"
        assert claims.raw["id"] == user["id"]
        assert jwt.get_unverified_header(tokens["access_token"])["alg"] == "EdDSA"
        assert claims.exp - claims.raw["iat"] == 3600


class TestLoginThrottling:
    async def test_eleventh_failure_in_the_window_is_429(
        self, client: httpx.AsyncClient, users: Users
    ) -> None:
        await users.register("victim")
        for _ in range(10):
            r = await client.post(
                "/auth/login", json={"username": "victim", "password": "guess-123"}
            )
            assert r.status_code == 401
        # Even the right password is refused now: the attacker cannot tell.
        r = await client.post("/auth/login", json={"username": "victim", "password": "guess-123"})
        assert r.status_code == 429
        assert r.json()["detail"] == "Too many failed login attempts"
        assert 0 < int(r.headers["retry-after"]) <= 900

    async def test_email_and_name_share_the_budget(
        self, client: httpx.AsyncClient, users: Users
    ) -> None:
        await users.register("target", "target@example.com")
        for i in range(10):
            name = "target" if i % 2 else "TARGET@example.com"
            r = await client.post("/auth/login", json={"username": name, "password": "guess-123"})
            assert r.status_code == 401
        r = await client.post("/auth/login", json={"username": "target", "password": "x-123456"})
        assert r.status_code == 429

    async def test_per_address_across_names(self, client: httpx.AsyncClient) -> None:
        for i in range(10):
            r = await client.post(
                "/auth/login",
                json={"username": f"spray{i}", "password": "guess-123"},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},  # ignored: no service token
            )
            assert r.status_code == 401
        r = await client.post(
            "/auth/login",
            json={"username": "fresh-name", "password": "guess-123"},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )
        assert r.status_code == 429

    async def test_forwarded_address_is_trusted_from_the_gateway(
        self, client: httpx.AsyncClient
    ) -> None:
        gateway = {"X-Parley-Service-Token": INTERNAL_TOKEN}
        for i in range(10):
            r = await client.post(
                "/auth/login",
                json={"username": f"spray{i}", "password": "guess-123"},
                headers={**gateway, "X-Forwarded-For": "203.0.113.9"},
            )
            assert r.status_code == 401
        blocked = await client.post(
            "/auth/login",
            json={"username": "another", "password": "guess-123"},
            headers={**gateway, "X-Forwarded-For": "203.0.113.9"},
        )
        assert blocked.status_code == 429
        elsewhere = await client.post(
            "/auth/login",
            json={"username": "another", "password": "guess-123"},
            headers={**gateway, "X-Forwarded-For": "198.51.100.1"},
        )
        assert elsewhere.status_code == 401

    async def test_success_resets_the_name_counter(
        self, client: httpx.AsyncClient, users: Users
    ) -> None:
        await users.register("forgetful")
        gateway = {"X-Parley-Service-Token": INTERNAL_TOKEN}
        for i in range(9):
            r = await client.post(
                "/auth/login",
                json={"username": "forgetful", "password": "guess-123"},
                headers={**gateway, "X-Forwarded-For": f"203.0.113.{i}"},
            )
            assert r.status_code == 401
        await users.login("forgetful")
        for i in range(9):
            r = await client.post(
                "/auth/login",
                json={"username": "forgetful", "password": "guess-123"},
                headers={**gateway, "X-Forwarded-For": f"198.51.100.{i}"},
            )
            assert r.status_code == 401


class TestBadInput:
    async def test_deeply_nested_login_body_is_400_not_500(self, client: httpx.AsyncClient) -> None:
        deep = '{"username": ' + "[" * 50_000 + "]" * 50_000 + ', "password": "x"}'
        r = await client.post(
            "/auth/login", content=deep, headers={"content-type": "application/json"}
        )
        assert r.status_code == 400, r.text

    async def test_nul_in_a_form_login_is_422(self, client: httpx.AsyncClient) -> None:
        r = await client.post(
            "/auth/login",
            content="username=a%00b&password=secret123",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 422

    async def test_lone_surrogate_in_a_username_is_422(self, client: httpx.AsyncClient) -> None:
        raw = '{"username": "ab\\ud800c", "email": "s@example.com", "password": "long enough"}'
        r = await client.post(
            "/auth/register", content=raw, headers={"content-type": "application/json"}
        )
        assert r.status_code == 422
