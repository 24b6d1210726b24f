"""The caller's login sessions: list them (which browser, where, when last used) and end them;
an ended session's sockets close (session.revoked) and its refresh token stops working."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from parley_common.auth_deps import CurrentClaims
from parley_common.openapi import errors

from . import service
from .deps import AuthCtx, SessionDep
from .errors import SessionNotFound
from .models import LoginSession
from .schemas import StatusOk

router = APIRouter(prefix="/auth/sessions", tags=["auth"])


class SessionRead(BaseModel):
    id: str
    created_at: datetime
    last_used_at: datetime | None = Field(description="The last refresh (or the login).")
    user_agent: str | None
    address: str | None
    current: bool = Field(description="The session making this request.")


class SessionsRevoked(BaseModel):
    status: str = "ok"
    revoked: int


@router.get("", response_model=list[SessionRead])
async def list_sessions(claims: CurrentClaims, session: SessionDep) -> list[SessionRead]:
    """The caller's live sessions, most recently used first."""
    rows = await session.scalars(
        select(LoginSession)
        .where(LoginSession.user_id == claims.user_id, LoginSession.revoked_at.is_(None))
        .order_by(LoginSession.last_used_at.desc().nulls_last(), LoginSession.created_at.desc())
    )
    return [
        SessionRead(
            id=s.id,
            created_at=s.created_at,
            last_used_at=s.last_used_at,
            user_agent=s.user_agent,
            address=s.address,
            current=s.id == claims.sid,
        )
        for s in rows
    ]


# A session id is a UUID (hex): so `revoke-others` is never taken for one.
@router.delete("/{session_id:uuid}", response_model=StatusOk, responses=errors(404))
async def revoke_session(
    session_id: uuid.UUID, claims: CurrentClaims, session: SessionDep, ctx: AuthCtx
) -> StatusOk:
    """End one of the caller's sessions (the current one too: that is logging out)."""
    login_session = await session.get(LoginSession, session_id.hex)
    if (
        login_session is None
        or login_session.user_id != claims.user_id
        or login_session.revoked_at is not None
    ):
        raise SessionNotFound()
    await service.revoke_session(session, ctx, claims.user_id, session_id.hex, reason="revoked")
    return StatusOk()


@router.post("/revoke-others", response_model=SessionsRevoked)
async def revoke_other_sessions(
    claims: CurrentClaims, session: SessionDep, ctx: AuthCtx
) -> SessionsRevoked:
    """End every session of the caller but this one."""
    revoked = await service.revoke_other_sessions(
        session, ctx, claims.user_id, claims.sid, reason="revoked"
    )
    return SessionsRevoked(revoked=revoked)
