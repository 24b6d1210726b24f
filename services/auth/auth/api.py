"""The auth routes of PROTOCOL.md (Auth and users), the JWKS, and internal lookups."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from parley_common.auth_deps import CurrentClaims
from parley_common.errors import BadRequest
from parley_common.internal import ServiceCaller, client_address, is_service_call
from parley_common.openapi import errors
from parley_common.schemas import in_int64

from . import keys, service
from . import repository as repo
from .deps import AuthCtx, CurrentUser, SessionDep
from .schemas import (
    AccountRead,
    LoginRequest,
    PasswordChange,
    PasswordChanged,
    RefreshRequest,
    RegisterRequest,
    StatusOk,
    TokenResponse,
    UserPublic,
    UserRead,
    UserRef,
    UserUpdate,
    account_of,
)

router = APIRouter()
internal = APIRouter(prefix="/internal", dependencies=[ServiceCaller], include_in_schema=False)

MAX_INTERNAL_IDS = 500

_LOGIN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": LoginRequest.model_json_schema()},
            "application/x-www-form-urlencoded": {"schema": LoginRequest.model_json_schema()},
        },
    }
}


async def _login_body(request: Request) -> LoginRequest:
    """JSON, or the OAuth2 password form old clients post (extra form fields are ignored)."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    data: Any
    if content_type == "application/x-www-form-urlencoded":
        data = dict(parse_qsl(raw.decode(errors="replace"), keep_blank_values=True))
    else:
        try:
            data = json.loads(raw) if raw else None
        except ValueError as exc:
            raise RequestValidationError(
                [
                    {
                        "type": "json_invalid",
                        "loc": ("body",),
                        "msg": "JSON decode error",
                        "input": {},
                        "ctx": {"error": str(exc)},
                    }
                ]
            )
    try:
        return LoginRequest.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**err, "loc": ("body", *err["loc"])} for err in exc.errors(include_url=False)]
        )


@router.post("/auth/register", response_model=UserPublic, responses=errors(400))
async def register(body: RegisterRequest, session: SessionDep, ctx: AuthCtx) -> UserPublic:
    """Create an account."""
    user = await service.register(session, ctx, body)
    return UserPublic.model_validate(user)


@router.post(
    "/auth/login",
    response_model=TokenResponse,
    openapi_extra=_LOGIN_BODY,
    responses=errors(401, 429),
)
@router.post(
    "/auth/token",
    response_model=TokenResponse,
    openapi_extra=_LOGIN_BODY,
    responses=errors(401, 429),
)
async def login(request: Request, session: SessionDep, ctx: AuthCtx) -> TokenResponse:
    """Log in with username or email and password."""
    body = await _login_body(request)
    address = client_address(request, trusted=is_service_call(request))
    return await service.login(
        session,
        ctx,
        identifier=body.username,
        password=body.password,
        address=address,
        user_agent=request.headers.get("user-agent"),
    )


@router.post("/auth/refresh", response_model=TokenResponse, responses=errors(401))
async def refresh(body: RefreshRequest, session: SessionDep, ctx: AuthCtx) -> TokenResponse:
    """Exchange a refresh token for new tokens (the old refresh token is spent)."""
    return await service.refresh(session, ctx, body.refresh_token)


@router.post("/auth/logout", response_model=StatusOk)
async def logout(body: RefreshRequest, session: SessionDep, ctx: AuthCtx) -> StatusOk:
    """End the login session the refresh token belongs to."""
    await service.logout(session, ctx, body.refresh_token)
    return StatusOk()


@router.get("/auth/me", response_model=AccountRead)
@router.get("/users/me", response_model=AccountRead)
async def get_me(user: CurrentUser) -> AccountRead:
    """The current user."""
    return account_of(user)


@router.put("/users/me", response_model=AccountRead, responses=errors(400))
async def update_me(
    body: UserUpdate, user: CurrentUser, session: SessionDep, ctx: AuthCtx
) -> AccountRead:
    """Change the current user's username or email."""
    return account_of(await service.update_profile(session, ctx, user, body))


@router.put("/users/me/password", response_model=PasswordChanged, responses=errors(400))
async def change_password(
    body: PasswordChange,
    user: CurrentUser,
    claims: CurrentClaims,
    session: SessionDep,
    ctx: AuthCtx,
) -> PasswordChanged:
    """Change the password; other login sessions are ended."""
    await service.change_password(session, ctx, user, body, current_sid=claims.sid)
    return PasswordChanged()


@router.get("/users", response_model=list[UserRef])
async def list_users(
    user: CurrentUser, session: SessionDep, ctx: AuthCtx, q: str = Query("", max_length=64)
) -> list[UserRef]:
    """Users whose name starts with `q` (ignoring case), the caller excluded."""
    found = await service.search(session, ctx, q=q, exclude_id=user.id)
    return [UserRef.model_validate(u) for u in found]


@router.get("/.well-known/jwks.json")
async def jwks(session: SessionDep) -> dict[str, Any]:
    """Public keys that verify access tokens."""
    return await keys.jwks(session)


@internal.get("/users", response_model=list[UserRead])
async def internal_users(session: SessionDep, ids: str = Query("")) -> list[UserRead]:
    """Users by id (comma-separated), in id order; unknown ids are left out."""
    try:
        wanted = sorted({int(part) for part in ids.split(",") if part.strip()})
    except ValueError:
        raise BadRequest("ids must be comma-separated integers")
    if not all(in_int64(i) for i in wanted):
        raise BadRequest("ids must be 64-bit integers")
    if len(wanted) > MAX_INTERNAL_IDS:
        raise BadRequest(f"At most {MAX_INTERNAL_IDS} ids per call")
    return [UserRead.model_validate(u) for u in await repo.users_by_ids(session, wanted)]
