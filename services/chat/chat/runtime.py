"""What chat runs on beyond the shared runtime (its send batcher), and typed access to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from starlette.datastructures import State

from parley_common.runtime import Runtime, runtime_of

from . import events
from .config import Settings
from .messages.sending import SendBatcher


@dataclass(slots=True)
class ChatParts:
    sender: SendBatcher


ChatRuntime = Runtime[Settings, ChatParts]


async def build(rt: ChatRuntime) -> ChatParts:
    assert rt.engine is not None
    # SQLite has one writer at a time: one send transaction at once there.
    concurrency = 1 if rt.engine.dialect.name == "sqlite" else 4
    sender = SendBatcher(rt.sessionmaker, rt.outbox, concurrency=concurrency)
    rt.add_consumer(queue=events.QUEUE, bindings=events.BINDINGS, handlers=events.HANDLERS)
    rt.add_step("sender", stop=sender.close)
    return ChatParts(sender=sender)


def chat_runtime(state: State) -> ChatRuntime:
    return cast(ChatRuntime, runtime_of(state))
