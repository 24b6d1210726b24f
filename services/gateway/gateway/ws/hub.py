"""The replica's connections, its one exclusive bus queue and its bindings, and the fan-out.

Bindings: `user.<id>.#` while a user has a socket here, `conv.<id>.#` while a conversation
has at least one connected member here (reference-counted by connected member).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import structlog
from pydantic import ValidationError

from parley_common import events as ev
from parley_common import frames as fr
from parley_common.bus import Bus, Delivery, Subscription
from parley_common.events import Envelope

from .. import deliveries
from ..metrics import EVENTS_DELIVERED, EVENTS_RECEIVED, WS_CONNECTIONS
from .connection import Connection
from .encoding import encode

log = structlog.get_logger(__name__)


def user_pattern(user_id: int) -> str:
    return f"user.{user_id}.#"


def conv_pattern(conversation_id: int) -> str:
    return f"conv.{conversation_id}.#"


class SeenEvents:
    """A bounded LRU of handled event ids."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, event_id: str) -> bool:
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return False
        self._ids[event_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return True


class Hub:
    def __init__(
        self,
        *,
        bus: Bus,
        gateway_id: str,
        dedupe_size: int,
        typing_timeout: float,
        store: Any = None,
        viewers_ttl: float = 45.0,
    ) -> None:
        self.bus = bus
        self.store = store
        self._viewers_ttl = viewers_ttl
        self._viewer_ops: asyncio.Queue[tuple[int, str, bool]] = asyncio.Queue()
        self._viewers_version: dict[int, int] = {}
        self._viewer_tasks: list[asyncio.Task[None]] = []
        self.gateway_id = gateway_id
        self.closing = False
        self.by_user: dict[int, set[Connection]] = {}
        self.user_convs: dict[int, set[int]] = {}
        self.conv_users: dict[int, set[int]] = {}
        self.friends: dict[int, set[int]] = {}
        self._friends_known: set[int] = set()
        self.viewers: dict[int, dict[int, int]] = {}
        self._seen = SeenEvents(dedupe_size)
        self._typing_timeout = typing_timeout
        self._typing: dict[tuple[int, int], asyncio.TimerHandle] = {}
        self._lock = asyncio.Lock()
        self._subscription: Subscription | None = None

    @property
    def connection_count(self) -> int:
        return sum(len(c) for c in self.by_user.values())

    def connections(self) -> list[Connection]:
        return [c for conns in self.by_user.values() for c in conns]

    async def start(self) -> None:
        self._subscription = await self.bus.subscribe(
            f"gateway.{self.gateway_id}", [], self.on_delivery, exclusive=True, max_attempts=1
        )
        self.bus.on_reconnect.append(self.on_bus_reconnect)
        if self.store is not None:
            self._viewer_tasks = [
                asyncio.create_task(self._viewers_worker(), name="hub-viewers"),
                asyncio.create_task(self._viewers_refresh(), name="hub-viewers-refresh"),
            ]

    async def stop(self) -> None:
        for task in self._viewer_tasks:
            task.cancel()
        await asyncio.gather(*self._viewer_tasks, return_exceptions=True)
        for handle in self._typing.values():
            handle.cancel()
        self._typing.clear()
        if self._subscription is not None:
            await self._subscription.cancel()
            self._subscription = None

    # --- connections and bindings ---------------------------------------------------------

    def is_connected(self, user_id: int) -> bool:
        return user_id in self.by_user

    def known_friends(self, user_id: int) -> list[int] | None:
        """The friend ids of a user connected here (kept current by friend events), or None
        when they have to be asked from chat (not connected, or the last fetch failed)."""
        if user_id not in self.by_user or user_id not in self._friends_known:
            return None
        return sorted(self.friends.get(user_id, ()))

    async def register(
        self,
        conn: Connection,
        *,
        conversation_ids: Iterable[int],
        friend_ids: Iterable[int],
        friends_known: bool = False,
    ) -> bool:
        """Adds the socket; True when it is the user's only socket here (their subscriptions
        were just created)."""
        async with self._lock:
            first = conn.user_id not in self.by_user
            self.by_user.setdefault(conn.user_id, set()).add(conn)
            WS_CONNECTIONS.inc()
            self.friends.setdefault(conn.user_id, set()).update(friend_ids)
            if friends_known:
                self._friends_known.add(conn.user_id)
            if first:
                await self._bind(user_pattern(conn.user_id))
            for conversation_id in conversation_ids:
                await self._add_member_locked(conn.user_id, conversation_id)
            return first

    async def unregister(self, conn: Connection) -> None:
        async with self._lock:
            conns = self.by_user.get(conn.user_id)
            if not conns or conn not in conns:
                return
            conns.discard(conn)
            WS_CONNECTIONS.dec()
            for conversation_id in list(conn.joined):
                self._leave(conn, conversation_id)
            if conns:
                return
            del self.by_user[conn.user_id]
            self.friends.pop(conn.user_id, None)
            self._friends_known.discard(conn.user_id)
            await self._unbind(user_pattern(conn.user_id))
            for conversation_id in list(self.user_convs.get(conn.user_id, ())):
                await self._remove_member_locked(conn.user_id, conversation_id)
            self.user_convs.pop(conn.user_id, None)

    def is_member(self, user_id: int, conversation_id: int) -> bool:
        return conversation_id in self.user_convs.get(user_id, ())

    async def add_member(self, user_id: int, conversation_id: int) -> None:
        async with self._lock:
            if user_id in self.by_user:
                await self._add_member_locked(user_id, conversation_id)

    async def remove_member(self, user_id: int, conversation_id: int) -> None:
        async with self._lock:
            for conn in self.by_user.get(user_id, ()):
                if conversation_id in conn.joined:
                    self._leave(conn, conversation_id)
            await self._remove_member_locked(user_id, conversation_id)

    async def _add_member_locked(self, user_id: int, conversation_id: int) -> None:
        self.user_convs.setdefault(user_id, set()).add(conversation_id)
        users = self.conv_users.setdefault(conversation_id, set())
        if not users:
            await self._bind(conv_pattern(conversation_id))
        users.add(user_id)

    async def _remove_member_locked(self, user_id: int, conversation_id: int) -> None:
        self.user_convs.get(user_id, set()).discard(conversation_id)
        users = self.conv_users.get(conversation_id)
        if users is None or user_id not in users:
            return
        users.discard(user_id)
        if not users:
            del self.conv_users[conversation_id]
            await self._unbind(conv_pattern(conversation_id))

    async def _bind(self, pattern: str) -> None:
        if self._subscription is not None:
            await self._subscription.bind(pattern)

    async def _unbind(self, pattern: str) -> None:
        if self._subscription is not None:
            try:
                await self._subscription.unbind(pattern)
            except Exception:
                log.warning("hub.unbind_failed", pattern=pattern, exc_info=True)

    # --- viewers (joined conversations) ---------------------------------------------------
    # Who views what lives in the store, one sorted set per conversation, `gw:viewers:<id>`,
    # members `<user>:<gateway>:<connection>` scored by their expiry: a replica refreshes its
    # entries every ttl/3, so those of a replica that died expire. Every change is published
    # (transient `conv.<id>.viewers`, with a growing version) and each replica sends the set
    # to its sockets that joined. Without a store (unit tests) the set is this replica's own.

    def join(self, conn: Connection, conversation_id: int) -> None:
        if conversation_id in conn.joined:
            return
        conn.joined.add(conversation_id)
        counts = self.viewers.setdefault(conversation_id, {})
        counts[conn.user_id] = counts.get(conn.user_id, 0) + 1
        self._viewer_changed(conn, conversation_id, joined=True)

    def leave(self, conn: Connection, conversation_id: int) -> None:
        if conversation_id in conn.joined:
            self._leave(conn, conversation_id)

    def _leave(self, conn: Connection, conversation_id: int) -> None:
        conn.joined.discard(conversation_id)
        counts = self.viewers.get(conversation_id, {})
        left = counts.get(conn.user_id, 0) - 1
        if left > 0:
            counts[conn.user_id] = left
        else:
            counts.pop(conn.user_id, None)
            if not counts:
                self.viewers.pop(conversation_id, None)
        self._viewer_changed(conn, conversation_id, joined=False)

    def _viewer_changed(self, conn: Connection, conversation_id: int, *, joined: bool) -> None:
        if self.store is None:
            self._send_viewers(conversation_id, sorted(self.viewers.get(conversation_id, {})))
            return
        member = f"{conn.user_id}:{self.gateway_id}:{conn.id}"
        self._viewer_ops.put_nowait((conversation_id, member, joined))

    @staticmethod
    def _viewers_key(conversation_id: int) -> str:
        return f"gw:viewers:{conversation_id}"

    async def _viewers_worker(self) -> None:
        """Applies join/leave changes in order and publishes the new set of each."""
        while True:
            conversation_id, member, joined = await self._viewer_ops.get()
            try:
                await self._apply_viewer(conversation_id, member, joined)
            except Exception:
                log.warning("hub.viewers_failed", conversation_id=conversation_id, exc_info=True)

    async def _apply_viewer(self, conversation_id: int, member: str, joined: bool) -> None:
        key = self._viewers_key(conversation_id)
        now = time.time()
        async with self.store.pipeline(transaction=True) as pipe:
            if joined:
                pipe.zadd(key, {member: now + self._viewers_ttl})
            else:
                pipe.zrem(key, member)
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zrange(key, 0, -1)
            pipe.incr(key + ":v")
            pipe.expire(key, int(self._viewers_ttl * 2))
            pipe.expire(key + ":v", 86400)
            results = await pipe.execute()
        members, version = results[2], int(results[3])
        user_ids = sorted({int(m.split(":", 1)[0]) for m in members})
        data = ev.ViewersChanged(
            conversation_id=conversation_id, user_ids=user_ids, version=version
        )
        env = ev.envelope(data, producer="gateway")
        try:
            await self.bus.publish(
                ev.conv_key(conversation_id, env.type),
                env.model_dump_json().encode(),
                message_id=str(env.id),
                persistent=False,
            )
        except Exception:
            # No broker: at least this replica's sockets get the set.
            log.warning("hub.viewers_publish_failed", exc_info=True)
            self._on_viewers_changed(data)

    async def _viewers_refresh(self) -> None:
        while True:
            await asyncio.sleep(self._viewers_ttl / 3)
            expires = time.time() + self._viewers_ttl
            try:
                async with self.store.pipeline(transaction=False) as pipe:
                    for conn in self.connections():
                        for cid in conn.joined:
                            member = f"{conn.user_id}:{self.gateway_id}:{conn.id}"
                            pipe.zadd(self._viewers_key(cid), {member: expires}, xx=True)
                            pipe.expire(self._viewers_key(cid), int(self._viewers_ttl * 2))
                    await pipe.execute()
            except Exception:
                log.warning("hub.viewers_refresh_failed", exc_info=True)

    def _on_viewers_changed(self, data: ev.ViewersChanged) -> None:
        cid = data.conversation_id
        if data.version < self._viewers_version.get(cid, 0):
            return  # an older set that arrived late
        self._viewers_version[cid] = data.version
        self._send_viewers(cid, data.user_ids)

    def _send_viewers(self, conversation_id: int, user_ids: list[int]) -> None:
        frame = fr.ViewersFrame(conversation_id=conversation_id, user_ids=user_ids)
        self.write(
            frame,
            [
                c
                for u in self.viewers.get(conversation_id, {})
                for c in self.by_user.get(u, ())
                if conversation_id in c.joined
            ],
        )

    # --- fan-out --------------------------------------------------------------------------

    def write(
        self, frame: fr.Frame, targets: Iterable[Connection], occurred_at: float | None = None
    ) -> int:
        """Serialize once, queue the same text on every target socket."""
        text: str | None = None
        count = 0
        for conn in targets:
            if text is None:
                text = encode(frame)
            conn.send_text(frame.type, text, occurred_at)  # type: ignore[attr-defined]
            count += 1
        return count

    def resolve(self, audience: deliveries.Audience) -> list[Connection]:
        if audience.users is not None:
            users: Iterable[int] = audience.users
        elif audience.conversation is not None:
            users = self.conv_users.get(audience.conversation, ())
        elif audience.friends_of is not None:
            users = [u for u, friends in self.friends.items() if audience.friends_of in friends]
        else:
            users = ()
        return [
            conn
            for user_id in users
            if user_id != audience.exclude
            for conn in self.by_user.get(user_id, ())
        ]

    async def on_delivery(self, delivery: Delivery) -> None:
        EVENTS_RECEIVED.inc()
        try:
            envelope = Envelope.model_validate_json(delivery.body)
        except ValidationError:
            log.warning("hub.bad_event", key=delivery.routing_key)
            return
        if not self._seen.first_time(str(envelope.id)):
            return
        await self.dispatch(envelope)

    async def dispatch(self, envelope: Envelope) -> None:
        try:
            await self._apply(envelope)
            outgoing = deliveries.frames_for(envelope)
        except ValidationError:
            log.warning("hub.bad_event_data", type=envelope.type, event_id=str(envelope.id))
            return
        occurred_at = envelope.occurred_at.timestamp()
        written = sum(self.write(o.frame, self.resolve(o.audience), occurred_at) for o in outgoing)
        if written:
            EVENTS_DELIVERED.inc()

    async def _apply(self, envelope: Envelope) -> None:
        """State changes an event makes here: bindings, friend sets, revocations, typing."""
        match envelope.type:
            case "member.added":
                added = envelope.parse(ev.MemberAdded)
                await self.add_member(added.new_user.id, added.conversation_id)
            case "member.removed":
                removed = envelope.parse(ev.MemberRemoved)
                await self.remove_member(removed.user.id, removed.conversation_id)
            case "conversation.created":
                created = envelope.parse(ev.ConversationCreated)
                for user_id in created.conversation.member_ids:
                    await self.add_member(user_id, created.conversation.id)
            case "friend.accepted":
                accepted = envelope.parse(ev.FriendAccepted)
                a, b = accepted.accepter.id, accepted.requester.id
                if a in self.friends:
                    self.friends[a].add(b)
                if b in self.friends:
                    self.friends[b].add(a)
            case "friend.removed":
                gone = envelope.parse(ev.FriendRemoved)
                self.friends.get(gone.user_id, set()).discard(gone.friend_id)
                self.friends.get(gone.friend_id, set()).discard(gone.user_id)
            case "session.revoked":
                revoked = envelope.parse(ev.SessionRevoked)
                for conn in list(self.by_user.get(revoked.user_id, ())):
                    if conn.sid == revoked.sid:
                        conn.close(fr.CLOSE_AUTH, "session revoked")
            case "typing":
                self._track_typing(envelope.parse(ev.Typing))
            case "viewers":
                self._on_viewers_changed(envelope.parse(ev.ViewersChanged))

    def _track_typing(self, typing: ev.Typing) -> None:
        key = (typing.conversation_id, typing.user_id)
        handle = self._typing.pop(key, None)
        if handle is not None:
            handle.cancel()
        if typing.is_typing:
            loop = asyncio.get_running_loop()
            self._typing[key] = loop.call_later(self._typing_timeout, self._typing_expired, typing)

    def _typing_expired(self, typing: ev.Typing) -> None:
        self._typing.pop((typing.conversation_id, typing.user_id), None)
        stopped = typing.model_copy(update={"is_typing": False})
        for out in deliveries.frames_for(
            Envelope(type="typing", producer="gateway", data=stopped.model_dump())
        ):
            self.write(out.frame, self.resolve(out.audience))

    async def on_bus_reconnect(self) -> None:
        """Events may have been lost while the broker was away: ask every client to resume."""
        log.info("hub.bus_reconnected", connections=self.connection_count)
        self.write(fr.ResumeRequiredFrame(), self.connections())
