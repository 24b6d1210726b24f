"""Service-to-service calls: the shared secret header on `/internal/` routes."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from .errors import ServiceError

SERVICE_TOKEN_HEADER = "X-Parley-Service-Token"


class InternalOnly(ServiceError):
    status_code, code, detail = 403, "forbidden", "Internal endpoint"


async def require_service_token(
    request: Request,
    x_parley_service_token: Annotated[str | None, Header()] = None,
) -> None:
    """Only callers holding PARLEY_INTERNAL_TOKEN reach `/internal/` routes (constant-time compare)."""
    expected: str = request.app.state.settings.internal_token
    given = x_parley_service_token or ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise InternalOnly()


ServiceCaller = Depends(require_service_token)


def client_address(request: Request, trusted: bool) -> str:
    """The caller's address; `X-Forwarded-For` counts only on a service-authenticated call."""
    if trusted:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "unknown"


def is_service_call(request: Request) -> bool:
    expected: str = request.app.state.settings.internal_token
    given = request.headers.get(SERVICE_TOKEN_HEADER, "")
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())
