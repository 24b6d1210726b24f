"""JWTVerifier and key rotation: a new kid is fetched when first seen, a retired key stops
verifying at the next scheduled refetch (with the tokens it verified), and an unreachable JWKS
keeps the keys already known. The JWKS is served by an httpx handler, as auth serves its own."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from parley_common.jwt_verify import InvalidToken, JWTVerifier


class Issuer:
    """Signing keys by kid, the JWKS of the ones not retired, and a switch to fail it."""

    def __init__(self) -> None:
        self.keys: dict[str, Ed25519PrivateKey] = {}
        self.fetches = 0
        self.down = False

    def add(self, kid: str) -> None:
        self.keys[kid] = Ed25519PrivateKey.generate()

    def token(self, kid: str, sub: int = 1) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": str(sub), "iss": "parley", "aud": "parley", "sid": "s", "jti": f"j{now}{sub}",
            "iat": now, "exp": now + 3600,
        }  # fmt: skip
        return jwt.encode(claims, self.keys[kid], algorithm="EdDSA", headers={"kid": kid})

    def serve(self, _: httpx.Request) -> httpx.Response:
        self.fetches += 1
        if self.down:
            return httpx.Response(503)
        jwks = []
        for kid, key in self.keys.items():
            jwk = json.loads(OKPAlgorithm.to_jwk(key.public_key()))
            jwks.append(jwk | {"kid": kid, "alg": "EdDSA"})
        return httpx.Response(200, json={"keys": jwks})


def verifier(issuer: Issuer, **options: float) -> JWTVerifier:
    http = httpx.AsyncClient(transport=httpx.MockTransport(issuer.serve))
    return JWTVerifier(
        "http://auth/.well-known/jwks.json", issuer="parley", audience="parley", http=http,
        **options,
    )  # fmt: skip


async def test_a_rotated_in_kid_verifies_right_after_another_fetch() -> None:
    issuer = Issuer()
    issuer.add("old")
    check = verifier(issuer, min_refresh_seconds=60)
    await check.verify(issuer.token("old"))
    issuer.add("new")
    assert (await check.verify(issuer.token("new", sub=2))).user_id == 2
    assert issuer.fetches == 2


async def test_forged_kids_cannot_make_every_request_fetch() -> None:
    issuer = Issuer()
    issuer.add("k")
    check = verifier(issuer, min_refresh_seconds=60)
    forged = Ed25519PrivateKey.generate()
    for i in range(20):
        token = jwt.encode({"sub": "1"}, forged, algorithm="EdDSA", headers={"kid": f"f{i}"})
        with pytest.raises(InvalidToken):
            await check.verify(token)
    assert issuer.fetches == JWTVerifier.UNKNOWN_KID_BURST


async def test_a_retired_key_stops_verifying_at_the_next_refetch() -> None:
    issuer = Issuer()
    issuer.add("old")
    issuer.add("new")
    # Every verification is a scheduled refetch: no waiting for the interval here.
    check = verifier(issuer, key_max_age_seconds=0)
    old_token = issuer.token("old")
    await check.verify(old_token)
    issuer.down = True  # auth unreachable: the keys known keep verifying
    assert (await check.verify(old_token)).user_id == 1
    issuer.down = False
    del issuer.keys["old"]
    with pytest.raises(InvalidToken, match="unknown kid"):
        await check.verify(old_token)
    assert (await check.verify(issuer.token("new"))).user_id == 1
