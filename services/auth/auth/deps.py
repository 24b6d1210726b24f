"""Dependencies of the auth routes, as Annotated aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.auth_deps import CurrentClaims
from parley_common.errors import Unauthorized

from . import repository as repo
from .models import User
from .service import AuthContext


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commit on success, roll back on error, except for errors
    marked `commit_anyway` (a detected refresh-token reuse must stay revoked)."""
    async with request.app.state.sessionmaker() as session:
        try:
            yield session
        except BaseException as exc:
            if getattr(exc, "commit_anyway", False):
                await session.commit()
            else:
                await session.rollback()
            raise
        else:
            await session.commit()


# scope="function": commit before the response is sent, so a client's next call sees the change.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_context(request: Request) -> AuthContext:
    ctx: AuthContext = request.app.state.auth
    return ctx


AuthCtx = Annotated[AuthContext, Depends(get_context)]


async def current_user(claims: CurrentClaims, session: SessionDep) -> User:
    user = await repo.get_user(session, claims.user_id)
    if user is None:  # a valid token of a deleted account
        raise Unauthorized("Could not validate credentials", code="invalid_token")
    return user


CurrentUser = Annotated[User, Depends(current_user)]
