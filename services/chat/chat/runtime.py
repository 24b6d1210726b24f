"""What chat runs on beyond the shared runtime (its send batcher, the file storage and its
sweeper), and typed access to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from starlette.datastructures import State

from parley_common.runtime import Runtime, runtime_of
from parley_common.storage import Storage, create_storage

from .attachments.sweeper import AttachmentSweeper
from .config import Settings
from .messages.sending import SendBatcher


@dataclass(slots=True)
class ChatParts:
    sender: SendBatcher
    storage: Storage
    sweeper: AttachmentSweeper


ChatRuntime = Runtime[Settings, ChatParts]


async def build(rt: ChatRuntime) -> ChatParts:
    assert rt.engine is not None
    # SQLite has one writer at a time: one send transaction at once there. On PostgreSQL two
    # per process: with four, sends arriving one by one (open loop, `make bench-chat` at
    # 1,000 msg/s) each got a transaction of their own and p99 reached 750 ms; with two, those
    # that arrive meanwhile share the next one (p99 130-200 ms, bench/README.md).
    concurrency = 1 if rt.engine.dialect.name == "sqlite" else 2
    sender = SendBatcher(rt.sessionmaker, rt.outbox, concurrency=concurrency)
    storage = create_storage(rt.settings)
    sweeper = AttachmentSweeper(
        rt.sessionmaker,
        storage,
        interval=rt.settings.attachment_sweep_seconds,
        unattached_seconds=rt.settings.unattached_upload_seconds,
    )
    # Imported here: the handlers reuse the request-path services, which import this module.
    from . import events

    handlers = events.handlers(
        settings=rt.settings, outbox=rt.outbox, storage=storage, sweeper=sweeper
    )
    rt.add_consumer(queue=events.QUEUE, bindings=events.BINDINGS, handlers=handlers)
    rt.add_step("sender", stop=sender.close)
    rt.add_step("storage", storage.start, storage.close)
    rt.add_step("attachment_sweeper", sweeper.start, sweeper.stop)
    return ChatParts(sender=sender, storage=storage, sweeper=sweeper)


def chat_runtime(state: State) -> ChatRuntime:
    return cast(ChatRuntime, runtime_of(state))
