"""Revoked login sessions: their access tokens are refused on REST (401) and at the WebSocket
handshake, on every replica (ARCHITECTURE.md, Security rules).

An access token outlives a logout by up to its lifetime, so signatures alone cannot end it.
Every replica consumes `session.revoked` (its own exclusive queue bound to
`user.*.session.revoked`, whoever's session it is) and writes the `sid` to a denylist in the
store (Redis; fakeredis in `make run`), kept until the session's last access token expires. The
store is shared, so a replica that starts later, or that missed the event, still refuses the sid.
The closing of that session's open sockets stays with the hub (4001).

Every handshake and every REST request asks the denylist, so it answers from a copy in memory
(a store round trip there was ~8 % of the gateway's CPU per connect, and a wait before
`accepted`). The copy takes this replica's events at once, and a poll of the store's revision
counter (every `sync_interval`) brings in what other replicas wrote: a replica that missed an
event refuses the sid within a second all the same. While the copy is stale (the store did not
answer for a few polls) every read goes to the store, which refuses when it cannot answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import datetime
from typing import cast

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


#: Every denied sid scored by its expiry, and a counter moved by every revocation: what the
#: copies in memory read (one key per sid stays, for the reads that bypass the copy).
INDEX_KEY = "gw:revoked-sids"
REVISION_KEY = "gw:revoked-sids:revision"


class SessionDenylist:
    def __init__(
        self, store: redis.Redis, *, default_ttl_seconds: float, sync_interval: float = 0.25
    ) -> None:
        self._store = store
        self._default_ttl = default_ttl_seconds
        self._sync_interval = sync_interval
        #: sid -> when its entry expires (wall clock, as the store's TTLs)
        self._revoked: dict[str, float] = {}
        self._revision: str | None = None
        #: The copy answers until then (monotonic); the store answers after.
        self._fresh_until = 0.0
        self._poller: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        with contextlib.suppress(redis.RedisError):
            await self.sync()
        self._poller = asyncio.create_task(self._poll(), name="session-denylist-sync")

    async def stop(self) -> None:
        self._stopping = True
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        self._fresh_until = 0.0

    async def revoke(self, sid: str, *, until: datetime | None = None) -> None:
        """Deny `sid` until `until` (its last access token's expiry), or for the default
        lifetime when the event does not say."""
        ttl = until.timestamp() - time.time() if until is not None else self._default_ttl
        seconds = max(1, int(ttl) + 1)
        now = time.time()
        self._remember(sid, now + seconds)
        async with self._store.pipeline(transaction=True) as pipe:
            pipe.set(KEY_PREFIX + sid, "1", ex=seconds)
            pipe.zadd(INDEX_KEY, {sid: now + seconds}, gt=True)
            pipe.zremrangebyscore(INDEX_KEY, "-inf", now)
            pipe.incr(REVISION_KEY)
            await pipe.execute()

    async def is_revoked(self, sid: str) -> bool:
        if time.monotonic() < self._fresh_until:
            expires = self._revoked.get(sid)
            return expires is not None and expires > time.time()
        return bool(await self._store.exists(KEY_PREFIX + sid))

    async def sync(self) -> None:
        """Brings the copy up to the store: read again whenever the revision moved. The
        revision is read first, so a revocation written during the read moves it again."""
        interval = self._sync_interval
        revision = str(await self._store.get(REVISION_KEY) or 0)
        if revision != self._revision:
            now = time.time()
            entries = await self._store.zrangebyscore(INDEX_KEY, now, "+inf", withscores=True)
            for sid, expires in cast(list[tuple[bytes | str, float]], entries):
                self._remember(sid.decode() if isinstance(sid, bytes) else sid, float(expires))
            self._revoked = {sid: at for sid, at in self._revoked.items() if at > now}
            self._revision = revision
        # A few missed polls are tolerated (a slow store), not a second of them.
        self._fresh_until = time.monotonic() + min(3 * interval, 0.75)

    def _remember(self, sid: str, expires: float) -> None:
        self._revoked[sid] = max(expires, self._revoked.get(sid, 0.0))

    async def _poll(self) -> None:
        # The flag, not only the cancellation, ends the loop: redis-py may turn a cancellation
        # during a command into a ConnectionError, which the loop would take for an outage.
        while not self._stopping:
            await asyncio.sleep(self._sync_interval)
            try:
                await self.sync()
            except redis.RedisError as exc:
                if not self._stopping:
                    log.warning("sessions.denylist_sync_failed", error=repr(exc))


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
