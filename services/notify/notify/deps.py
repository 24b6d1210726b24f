"""Request dependencies: the unit of work (commits when the route returns) and app services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.outbox import Outbox

from .config import Settings
from .presence.store import PresenceStore


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_outbox(request: Request) -> Outbox:
    return request.app.state.outbox


async def get_presence_store(request: Request) -> PresenceStore:
    return request.app.state.presence.store  # type: ignore[no-any-return]


# scope="function": commit before the response is sent, so a failed commit is the answer.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
OutboxDep = Annotated[Outbox, Depends(get_outbox)]
PresenceStoreDep = Annotated[PresenceStore, Depends(get_presence_store)]
