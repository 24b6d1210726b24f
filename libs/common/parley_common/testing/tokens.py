"""Access tokens for tests of services other than auth: an Ed25519 key of the test's own,
served as JWKS through an httpx transport, with the same claims auth issues."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm


class TokenFactory:
    def __init__(self, *, issuer: str = "parley", audience: str = "parley") -> None:
        self.issuer = issuer
        self.audience = audience
        self.kid = uuid.uuid4().hex[:16]
        self.private_key = Ed25519PrivateKey.generate()

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(OKPAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update(kid=self.kid, alg="EdDSA", use="sig")
        return {"keys": [jwk]}

    def transport(self) -> httpx.MockTransport:
        """Answers `GET /.well-known/jwks.json` like the auth service does."""
        return httpx.MockTransport(lambda request: httpx.Response(200, json=self.jwks()))

    def token(
        self,
        user_id: int,
        username: str = "",
        *,
        sid: str | None = None,
        ttl: int = 3600,
        **overrides: Any,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": str(user_id),
            "id": user_id,
            "username": username,
            "sid": sid or uuid.uuid4().hex,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        return jwt.encode(claims, self.private_key, algorithm="EdDSA", headers={"kid": self.kid})
