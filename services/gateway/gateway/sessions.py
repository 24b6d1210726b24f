"""Revoked login sessions: their access tokens are refused on REST (401) and at the WebSocket
handshake, on every replica (ARCHITECTURE.md, Security rules).

An access token outlives a logout by up to its lifetime, so signatures alone cannot end it.
Every replica consumes `session.revoked` (its own exclusive queue bound to
`user.*.session.revoked`, whoever's session it is) and writes the `sid` to a denylist in the
store (Redis; fakeredis in `make run`), kept until the session's last access token expires. The
store is shared, so a replica that starts later, or that missed the event, still refuses the sid.
The closing of that session's open sockets stays with the hub (4001).
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime

import jwt
import redis.asyncio as redis
import structlog
from pydantic import ValidationError

from parley_common.bus import Bus, Delivery, Subscription
from parley_common.events import Envelope, SessionRevoked
from parley_common.jwt_verify import AccessClaims, InvalidToken, JWTVerifier

log = structlog.get_logger(__name__)

KEY_PREFIX = "gw:revoked-sid:"
BINDING = f"user.*.{SessionRevoked.EVENT_TYPE}"


class SessionDenylist:
    def __init__(self, store: redis.Redis, *, default_ttl_seconds: float) -> None:
        self._store = store
        self._default_ttl = default_ttl_seconds

    async def revoke(self, sid: str, *, until: datetime | None = None) -> None:
        """Deny `sid` until `until` (its last access token's expiry), or for the default
        lifetime when the event does not say."""
        ttl = until.timestamp() - time.time() if until is not None else self._default_ttl
        await self._store.set(KEY_PREFIX + sid, "1", ex=max(1, int(ttl) + 1))

    async def is_revoked(self, sid: str) -> bool:
        return bool(await self._store.exists(KEY_PREFIX + sid))


class RevocationAwareVerifier(JWTVerifier):
    """A JWTVerifier that also refuses tokens of revoked sessions: every handshake form (path,
    query, header, first `auth` frame) and the `auth` frame go through it."""

    def __init__(self, *args: object, denylist: SessionDenylist, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.denylist = denylist

    async def verify(self, token: str) -> AccessClaims:
        claims = await super().verify(token)
        try:
            revoked = await self.denylist.is_revoked(claims.sid)
        except redis.RedisError as exc:
            # The denylist cannot be read: refuse rather than let a revoked session in.
            raise InvalidToken("session state unavailable") from exc
        if revoked:
            raise InvalidToken("session revoked")
        return claims


def unverified_sid(authorization: str | None) -> str | None:
    """The `sid` of a Bearer token, without checking its signature: only used to refuse more
    (the service behind the gateway still verifies the token itself)."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        claims = jwt.decode(token.strip(), options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    sid = claims.get("sid") if isinstance(claims, dict) else None
    return sid if isinstance(sid, str) and sid else None


class RevocationFeed:
    """Feeds the denylist from `session.revoked`, on every replica."""

    def __init__(self, bus: Bus, denylist: SessionDenylist, *, gateway_id: str) -> None:
        self._bus = bus
        self._denylist = denylist
        # Exclusive queues vanish with their connection; a unique name survives a restart race.
        self._queue = f"gateway.{gateway_id}.sessions.{uuid.uuid4().hex[:6]}"
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        self._subscription = await self._bus.subscribe(
            self._queue, [BINDING], self.on_delivery, exclusive=True, max_attempts=3
        )

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.cancel()
            self._subscription = None

    async def on_delivery(self, delivery: Delivery) -> None:
        try:
            revoked = Envelope.model_validate_json(delivery.body).parse(SessionRevoked)
        except ValidationError:
            log.warning("sessions.bad_event", key=delivery.routing_key)
            return
        await self._denylist.revoke(revoked.sid, until=revoked.access_until)
        log.info("sessions.revoked", user_id=revoked.user_id)
