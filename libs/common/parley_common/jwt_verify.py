"""Access-token verification from the auth service's JWKS: algorithm pinned, claims required."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from jwt import PyJWK

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "sid", "jti"]


class InvalidToken(Exception):
    """The token is malformed, forged, expired or not for us."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    username: str
    sid: str
    jti: str
    exp: int
    raw: dict[str, Any]


class JWTVerifier:
    """Verifies tokens against keys fetched from a JWKS URL, refetched on an unknown `kid`.

    A token verified once is remembered (bounded, until it expires): a client presents the
    same token on every request and socket for an hour, and the signature check is the
    costliest step of a small request. Revocation is not this class's concern (the gateway's
    session denylist is checked on every use)."""

    CACHE_SIZE = 10_000

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        http: httpx.AsyncClient | None = None,
        min_refresh_seconds: float = 5.0,
        leeway: float = 0,
    ) -> None:
        self._jwks_url = jwks_url
        self._issuer = issuer
        self._audience = audience
        self._http = http or httpx.AsyncClient(timeout=5)
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = 0.0
        self._min_refresh = min_refresh_seconds
        self._lock = asyncio.Lock()
        self._leeway = leeway
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()

    async def verify(self, token: str) -> AccessClaims:
        claims = self._verified.get(token)
        if claims is not None:
            if claims.exp + self._leeway > time.time():
                self._verified.move_to_end(token)
                return claims
            del self._verified[token]
        claims = await self._verify(token)
        self._verified[token] = claims
        if len(self._verified) > self.CACHE_SIZE:
            self._verified.popitem(last=False)
        return claims

    async def _verify(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("unexpected algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("missing kid")
        key = await self._key(kid)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
            return AccessClaims(
                user_id=int(claims["sub"]),
                username=str(claims.get("username", "")),
                sid=str(claims["sid"]),
                jti=str(claims["jti"]),
                exp=int(claims["exp"]),
                raw=claims,
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidToken(str(exc)) from exc

    async def _key(self, kid: str) -> PyJWK:
        key = self._keys.get(kid)
        if key is not None:
            return key
        async with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched_at >= self._min_refresh:
                await self._refresh()
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("unknown kid")
        return key

    async def _refresh(self) -> None:
        try:
            response = await self._http.get(self._jwks_url)
            response.raise_for_status()
            keys = response.json().get("keys", [])
        except (httpx.HTTPError, ValueError) as exc:
            raise InvalidToken(f"cannot fetch signing keys: {exc}") from exc
        self._fetched_at = time.monotonic()
        fresh: dict[str, PyJWK] = {}
        for jwk in keys:
            if jwk.get("kid") and jwk.get("alg", ALGORITHM) == ALGORITHM:
                fresh[jwk["kid"]] = PyJWK(jwk, algorithm=ALGORITHM)
        self._keys = fresh
