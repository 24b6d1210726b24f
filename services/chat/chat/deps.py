"""Request dependencies: the unit of work (commits when the route returns) and the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.auth_deps import CurrentClaims
from parley_common.outbox import Outbox

from .config import Settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# scope="function": commit before the response is sent, so a failed commit is the answer.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


@dataclass(slots=True)
class Ctx:
    """What a service call needs: the transaction, the caller, settings and the outbox."""

    session: AsyncSession
    user_id: int
    settings: Settings
    outbox: Outbox


async def get_ctx(request: Request, session: SessionDep, claims: CurrentClaims) -> Ctx:
    return Ctx(session, claims.user_id, request.app.state.settings, request.app.state.outbox)


CtxDep = Annotated[Ctx, Depends(get_ctx)]
