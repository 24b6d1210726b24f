"""The caller of `/integrations/` routes: an integration key, never an end user's token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.errors import Unauthorized
from parley_common.outbox import Outbox

from ..config import Settings
from ..deps import SessionDep
from ..runtime import chat_runtime
from . import keys

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="IntegrationKey",
    description="An integration key (`parley integration-key create`), never a user's token.",
)


@dataclass(slots=True)
class IntegrationCtx:
    """What an integration call needs: the transaction, settings, the outbox and the key's name."""

    session: AsyncSession
    settings: Settings
    outbox: Outbox
    key_name: str


async def integration_ctx(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> IntegrationCtx:
    """401 unless the Bearer token is a live integration key."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("Not authenticated", code="not_authenticated")
    token = credentials.credentials
    if not keys.looks_like_key(token):
        raise Unauthorized(
            "Integration key required: end-user tokens are not accepted on /integrations/",
            code="integration_key_required",
        )
    key = await keys.authenticate(session, token)
    if key is None:
        raise Unauthorized("Invalid or revoked integration key", code="invalid_integration_key")
    rt = chat_runtime(request.app.state)
    return IntegrationCtx(session, rt.settings, rt.outbox, key.name)


IntegrationCtxDep = Annotated[IntegrationCtx, Depends(integration_ctx)]
