"""What notify runs on beyond the shared runtime (presence, the email sender, its event
handlers), and typed access to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from starlette.datastructures import State

from parley_common.email_transport import create_transport
from parley_common.runtime import Runtime, runtime_of

from . import blocks, events, retention
from .config import Settings
from .emails.sender import EmailSender
from .presence.service import PresenceService
from .presence.store import PresenceStore
from .push import sender as push_sender
from .push.sender import PushSender


@dataclass(slots=True)
class NotifyParts:
    presence: PresenceService
    sender: EmailSender
    push: PushSender


NotifyRuntime = Runtime[Settings, NotifyParts]


async def build(rt: NotifyRuntime) -> NotifyParts:
    settings = rt.settings
    presence_store = PresenceStore(
        rt.store,
        prefix=settings.presence_key_prefix,
        gateway_ttl=settings.presence_gateway_ttl_seconds,
        tombstone_ttl=settings.presence_tombstone_seconds,
    )
    presence = PresenceService(
        store=presence_store, bus=rt.bus, reap_seconds=settings.presence_reap_seconds
    )
    notify_events = events.NotifyEvents(
        settings=settings, outbox=rt.outbox, presence=presence_store
    )
    rt.add_consumer(
        queue=events.QUEUE,
        # The block projection (consent) rides on the same inbox queue.
        bindings=[*events.BINDINGS, *blocks.BINDINGS],
        handlers={**notify_events.handlers(), **blocks.HANDLERS},
        prepare=notify_events.prepare,
        has_work=notify_events.has_work,
        # Nothing notify does is on a live frame's path: batches may wait 50 ms to grow
        # (one presence lookup and at most one transaction each).
        linger=0.05,
    )
    sender = EmailSender(
        sessionmaker=rt.sessionmaker,
        transport=create_transport(settings.smtp_url, timeout=settings.smtp_timeout_seconds),
        settings=settings,
    )
    push = PushSender(settings=settings, presence=presence_store)
    # Its own queue: a slow push service holds up nothing but pushes.
    rt.add_consumer(
        queue=push_sender.QUEUE, bindings=push_sender.BINDINGS, handlers=push.handlers()
    )
    rt.add_step("push", None, push.close)
    rt.purges.extend(retention.purges(settings))
    rt.add_step("presence", presence.start, presence.stop)
    rt.add_step("email_sender", sender.start, sender.stop)
    return NotifyParts(presence=presence, sender=sender, push=push)


def notify_runtime(state: State) -> NotifyRuntime:
    return cast(NotifyRuntime, runtime_of(state))
