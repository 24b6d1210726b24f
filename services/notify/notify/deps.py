"""Request dependencies: the unit of work (parley_common.deps) and notify's parts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from parley_common.deps import SessionDep
from parley_common.outbox import Outbox

from .config import Settings
from .presence.store import PresenceStore
from .push.sender import PushSender
from .runtime import notify_runtime

__all__ = ["OutboxDep", "PresenceStoreDep", "PushDep", "SessionDep", "SettingsDep"]


async def get_settings(request: Request) -> Settings:
    return notify_runtime(request.app.state).settings


async def get_outbox(request: Request) -> Outbox:
    return notify_runtime(request.app.state).outbox


async def get_presence_store(request: Request) -> PresenceStore:
    return notify_runtime(request.app.state).parts.presence.store


SettingsDep = Annotated[Settings, Depends(get_settings)]
OutboxDep = Annotated[Outbox, Depends(get_outbox)]
PresenceStoreDep = Annotated[PresenceStore, Depends(get_presence_store)]


async def get_push(request: Request) -> PushSender:
    return notify_runtime(request.app.state).parts.push


PushDep = Annotated[PushSender, Depends(get_push)]
