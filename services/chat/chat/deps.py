"""Request dependencies: the unit of work (parley_common.deps) and what a call needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.auth_deps import CurrentClaims
from parley_common.deps import SessionDep
from parley_common.outbox import Outbox
from parley_common.storage import Storage

from .attachments.sweeper import AttachmentSweeper
from .config import Settings
from .runtime import chat_runtime

__all__ = ["Ctx", "CtxDep", "SessionDep"]


@dataclass(slots=True)
class Ctx:
    """What a service call needs: the transaction, the caller, settings and the outbox."""

    session: AsyncSession
    user_id: int
    settings: Settings
    outbox: Outbox
    storage: Storage
    sweeper: AttachmentSweeper


async def get_ctx(request: Request, session: SessionDep, claims: CurrentClaims) -> Ctx:
    rt = chat_runtime(request.app.state)
    parts = rt.parts
    return Ctx(session, claims.user_id, rt.settings, rt.outbox, parts.storage, parts.sweeper)


CtxDep = Annotated[Ctx, Depends(get_ctx)]
