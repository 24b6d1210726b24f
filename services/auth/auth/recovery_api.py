"""Password reset and address verification routes (recovery.py says how they behave)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, EmailStr, Field

from parley_common.events import UserUpdated
from parley_common.internal import client_address, is_service_call
from parley_common.openapi import errors

from . import recovery, service
from .deps import AuthCtx, CurrentUser, SessionDep
from .schemas import Password, StatusOk

router = APIRouter(prefix="/auth", tags=["auth"])

TOKEN = Field(min_length=20, max_length=100, description="The token from the emailed link.")


class ForgotPassword(BaseModel):
    email: EmailStr


class ResetPassword(BaseModel):
    token: str = TOKEN
    new_password: Password


class VerifyEmail(BaseModel):
    token: str = TOKEN


class Sent(BaseModel):
    status: str = "ok"
    message: str


@router.post("/password/forgot", response_model=Sent, responses=errors(429))
async def forgot_password(
    body: ForgotPassword, request: Request, session: SessionDep, ctx: AuthCtx
) -> Sent:
    """Email a reset link to this address if an account has it; the answer is the same
    either way."""
    address = client_address(request, trusted=is_service_call(request))
    await recovery.request_reset(ctx, session, email=body.email, address=address)
    return Sent(message="If an account uses this address, a reset link is on its way")


@router.post("/password/reset", response_model=StatusOk, responses=errors(400))
async def reset_password(body: ResetPassword, session: SessionDep, ctx: AuthCtx) -> StatusOk:
    """Set a new password with the emailed link (once); every session of the account ends."""
    await recovery.reset_password(ctx, session, token=body.token, password=body.new_password)
    return StatusOk()


@router.post("/verify", response_model=StatusOk, responses=errors(400))
async def verify_email(body: VerifyEmail, session: SessionDep, ctx: AuthCtx) -> StatusOk:
    """Confirm the address with the emailed link."""
    user = await recovery.verify(ctx, session, token=body.token)
    await service.publish_user(session, ctx, user, UserUpdated)
    return StatusOk()


@router.post("/verify/resend", response_model=Sent, responses=errors(429))
async def resend_verification(user: CurrentUser, session: SessionDep, ctx: AuthCtx) -> Sent:
    """Send the verification link again (nothing when the address is verified)."""
    if user.email_verified:
        return Sent(message="Your address is already verified")
    await recovery.send_verification(ctx, session, user)
    return Sent(message=f"A verification link is on its way to {user.email}")
