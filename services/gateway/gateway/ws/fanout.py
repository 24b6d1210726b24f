"""Bus events → frames on this replica's sockets.

The replica's queue is consumed in batches without acks (it is exclusive to this process and
dies with it). Each event is handled once (an event for several audiences arrives once per
routing key, same id), may change what the replica knows (memberships, friends, revoked
sessions, typing), and becomes frames: each frame is serialized once and the same bytes are
written to every target socket (ws/protocol.py).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime

import orjson
import structlog
from pydantic import ValidationError

from parley_common import events as ev
from parley_common import frames as fr
from parley_common.bus import Delivery
from parley_common.events import Envelope

from ..metrics import DELIVERY_LATENCY, EVENTS_DELIVERED, EVENTS_RECEIVED, WS_FRAMES_OUT
from . import deliveries
from .connection import Connection
from .encoding import encode_bytes
from .protocol import text_frame
from .registry import Registry
from .typing import TypingTimers
from .viewers import Viewers

log = structlog.get_logger(__name__)


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


class Fanout:
    def __init__(
        self, *, registry: Registry, viewers: Viewers, dedupe_size: int, typing_timeout: float
    ) -> None:
        self.registry = registry
        self.viewers = viewers
        self.typing = TypingTimers(typing_timeout, self._typing_stopped)
        self._seen = SeenEvents(dedupe_size)

    async def handle_batch(self, batch: list[Delivery]) -> None:
        EVENTS_RECEIVED.inc(len(batch))
        for delivery in batch:
            if delivery.routing_key.endswith(".message.created") and self._new_message(delivery):
                continue
            try:
                env = Envelope.model_validate_json(delivery.body)
            except ValidationError:
                log.warning("fanout.bad_event", key=delivery.routing_key)
                continue
            if self._seen.first_time(str(env.id)):
                await self.dispatch(env)

    def _new_message(self, delivery: Delivery) -> bool:
        """The most frequent event, without models: `message.created` becomes `new_message`
        with the message as chat serialized it (the same MessageRead the models would give),
        for the connected members named in the event. False: take the general path."""
        try:
            raw = orjson.loads(delivery.body)
            data = raw["data"]
            message, members = data["message"], data["member_ids"]
            if raw["type"] != "message.created" or not isinstance(members, list):
                return False
            occurred_at = datetime.fromisoformat(raw["occurred_at"]).timestamp()
            event_id = str(raw["id"])
        except (ValueError, KeyError, TypeError):
            return False
        if self._seen.first_time(event_id):
            payload = orjson.dumps({"type": "new_message", "message": message})
            users = members or self.registry.members_here(message["conversation_id"])
            targets = [c for u in users for c in self.registry.of_user(u)]
            if self.write_payload("new_message", payload, targets, occurred_at):
                EVENTS_DELIVERED.inc()
        return True

    async def dispatch(self, env: Envelope) -> None:
        try:
            binds = self._apply(env)
            outgoing = deliveries.frames_for(env)
        except ValidationError:
            log.warning("fanout.bad_event_data", type=env.type, event_id=str(env.id))
            return
        if binds and self.registry.subscription is not None:
            # Not awaited: events behind this one must not wait for the broker's answer.
            await self.registry.subscription.update_bindings(add=binds, wait=False)
        occurred_at = env.occurred_at.timestamp()
        written = sum(self.write(o.frame, self.resolve(o.audience), occurred_at) for o in outgoing)
        if written:
            EVENTS_DELIVERED.inc()

    def write(
        self, frame: fr.Frame, targets: Iterable[Connection], occurred_at: float | None = None
    ) -> int:
        """Serialize once, write the same bytes to every target socket."""
        targets = list(targets)
        if not targets:
            return 0
        return self.write_payload(frame.type, encode_bytes(frame), targets, occurred_at)

    def write_payload(
        self,
        frame_type: str,
        payload: bytes,
        targets: list[Connection],
        occurred_at: float | None = None,
    ) -> int:
        if not targets:
            return 0
        ready = text_frame(payload)
        count = 0
        for conn in targets:
            if conn.write(payload, ready):
                count += 1
        if count:
            WS_FRAMES_OUT.labels(frame_type).inc(count)
            if occurred_at is not None:
                DELIVERY_LATENCY.observe(max(0.0, time.time() - occurred_at))
        return count

    def resolve(self, audience: deliveries.Audience) -> list[Connection]:
        registry = self.registry
        users: Iterable[int]
        if audience.users is not None:
            users = audience.users
        elif audience.conversation is not None:
            users = registry.members_here(audience.conversation)
        elif audience.friends_of is not None:
            users = registry.followers_of(audience.friends_of)
        else:
            users = ()
        return [
            conn
            for user_id in users
            if user_id != audience.exclude
            for conn in registry.of_user(user_id)
        ]

    def _apply(self, env: Envelope) -> list[str]:
        """What an event changes here: memberships (and the bindings they need), friends,
        revoked sessions, typing and viewers."""
        registry = self.registry
        match env.type:
            case "member.added":
                added = env.parse(ev.MemberAdded)
                return registry.add_member(added.new_user.id, added.conversation_id)
            case "member.removed":
                removed = env.parse(ev.MemberRemoved)
                self.viewers.leave_everywhere(removed.user.id, removed.conversation_id)
                registry.remove_member(removed.user.id, removed.conversation_id)
            case "conversation.deleted":
                deleted = env.parse(ev.ConversationDeleted)
                for user_id in deleted.member_ids:
                    self.viewers.leave_everywhere(user_id, deleted.conversation_id)
                    registry.remove_member(user_id, deleted.conversation_id)
            case "conversation.created":
                conversation = env.parse(ev.ConversationCreated).conversation
                return [
                    p
                    for u in conversation.member_ids
                    for p in registry.add_member(u, conversation.id)
                ]
            case "friend.accepted":
                accepted = env.parse(ev.FriendAccepted)
                registry.befriend(accepted.accepter.id, accepted.requester.id)
            case "friend.removed":
                gone = env.parse(ev.FriendRemoved)
                registry.unfriend(gone.user_id, gone.friend_id)
            case "session.revoked":
                revoked = env.parse(ev.SessionRevoked)
                for conn in list(registry.of_user(revoked.user_id)):
                    if conn.sid == revoked.sid:
                        conn.close(fr.CLOSE_AUTH, "session revoked")
            case "typing":
                self.typing.track(env.parse(ev.Typing))
            case "viewers":
                self.viewers.on_event(env.parse(ev.ViewersChanged))
        return []

    def _typing_stopped(self, typing: ev.Typing) -> None:
        for out in deliveries.frames_for(
            Envelope(type="typing", producer="gateway", data=typing.model_dump())
        ):
            self.write(out.frame, self.resolve(out.audience))

    async def on_bus_reconnect(self) -> None:
        """Events may have been lost while the broker was away: ask every client to resume."""
        log.info("fanout.bus_reconnected", connections=self.registry.count)
        self.registry.forget_parked()
        self.write(fr.ResumeRequiredFrame(), self.registry.connections())
