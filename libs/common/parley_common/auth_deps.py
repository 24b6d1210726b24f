"""The `CurrentUser` dependency every service uses: a Bearer access token, verified locally."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .errors import Unauthorized
from .jwt_verify import AccessClaims, InvalidToken
from .runtime import runtime_of

# The scheme's name is what the public OpenAPI document calls it (integrations have their own).
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="BearerJWT",
    bearerFormat="JWT",
    description="An access token from POST /auth/login or /auth/refresh.",
)


async def current_claims(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AccessClaims:
    """401 `Not authenticated` without a token, 401 `Could not validate credentials` for a bad one."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("Not authenticated", code="not_authenticated")
    verifier = runtime_of(request.app.state).verifier
    assert verifier is not None, "this service does not verify access tokens"
    try:
        return await verifier.verify(credentials.credentials)
    except InvalidToken:
        raise Unauthorized("Could not validate credentials", code="invalid_token")


CurrentClaims = Annotated[AccessClaims, Depends(current_claims)]
