"""Dependencies of the auth routes, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from parley_common.auth_deps import CurrentClaims
from parley_common.deps import SessionDep
from parley_common.errors import Unauthorized

from . import repository as repo
from .models import User
from .runtime import auth_runtime
from .service import AuthContext

__all__ = ["AuthCtx", "CurrentUser", "SessionDep"]


async def get_context(request: Request) -> AuthContext:
    return auth_runtime(request.app.state).parts


AuthCtx = Annotated[AuthContext, Depends(get_context)]


async def current_user(claims: CurrentClaims, session: SessionDep) -> User:
    user = await repo.get_user(session, claims.user_id)
    if user is None or user.deleted_at is not None:  # a valid token of a deleted account
        raise Unauthorized("Could not validate credentials", code="invalid_token")
    return user


CurrentUser = Annotated[User, Depends(current_user)]
