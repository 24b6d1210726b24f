"""Access-token verification from the auth service's JWKS: algorithm pinned, claims required."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import structlog
from jwt import PyJWK

log = structlog.get_logger(__name__)

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
    """Verifies tokens against keys fetched from a JWKS URL, refetched on an unknown `kid` (a
    rotated-in key) and every `key_max_age_seconds` (a retired key stops being accepted,
    and the tokens verified with it are forgotten).

    A token verified once is remembered (bounded, until it expires or its key leaves the
    JWKS): a client presents the same token on every request and socket for an hour, and the
    signature check is the costliest step of a small request. Revocation is not this class's
    concern (the gateway's session denylist is checked on every use)."""

    CACHE_SIZE = 10_000
    UNKNOWN_KID_BURST = 5

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        http: httpx.AsyncClient | None = None,
        min_refresh_seconds: float = 5.0,
        key_max_age_seconds: float = 300.0,
        leeway: float = 0,
    ) -> None:
        self._jwks_url = jwks_url
        self._issuer = issuer
        self._audience = audience
        self._http = http or httpx.AsyncClient(timeout=5)
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = 0.0
        # Refetches for unknown kids: at most UNKNOWN_KID_BURST per that many `min_refresh`
        # intervals, so forged kids cannot make every request fetch the JWKS, while the first
        # token of a rotated-in key is not refused because a fetch (at start, or one of
        # another forged kid) happened a moment before it.
        self._unknown_kid_fetches: deque[float] = deque(maxlen=self.UNKNOWN_KID_BURST)
        self._min_refresh = min_refresh_seconds
        self._max_age = key_max_age_seconds
        self._lock = asyncio.Lock()
        self._leeway = leeway
        # token → (kid, claims)
        self._verified: OrderedDict[str, tuple[str, AccessClaims]] = OrderedDict()

    async def verify(self, token: str) -> AccessClaims:
        if self._keys and time.monotonic() - self._fetched_at >= self._max_age:
            await self._refresh_aged_keys()
        cached = self._verified.get(token)
        if cached is not None:
            if cached[1].exp + self._leeway > time.time():
                self._verified.move_to_end(token)
                return cached[1]
            del self._verified[token]
        kid, claims = await self._verify(token)
        self._verified[token] = (kid, claims)
        if len(self._verified) > self.CACHE_SIZE:
            self._verified.popitem(last=False)
        return claims

    async def _verify(self, token: str) -> tuple[str, AccessClaims]:
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
            return kid, AccessClaims(
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
            if kid not in self._keys and self._may_fetch_for_unknown_kid():
                self._unknown_kid_fetches.append(time.monotonic())
                await self._refresh()
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("unknown kid")
        return key

    def _may_fetch_for_unknown_kid(self) -> bool:
        fetches = self._unknown_kid_fetches
        window = self._min_refresh * self.UNKNOWN_KID_BURST
        return len(fetches) < self.UNKNOWN_KID_BURST or time.monotonic() - fetches[0] >= window

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
        self._verified = OrderedDict(
            (token, entry) for token, entry in self._verified.items() if entry[0] in fresh
        )

    async def _refresh_aged_keys(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at < self._max_age:
                return  # another request refreshed them meanwhile
            try:
                await self._refresh()
            except InvalidToken as exc:
                # auth is unreachable: keep verifying with the keys we have (refusing every
                # token would make an auth outage an outage of everything) and try again after
                # the next interval.
                self._fetched_at = time.monotonic()
                log.warning("jwks.refresh_failed", error=str(exc))
