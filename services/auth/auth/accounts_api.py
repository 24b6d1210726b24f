"""Account routes of issue 17: delete the account, export its data, change its address
(account_deletion.py, exports.py and email_change.py say how each behaves)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from parley_common.openapi import errors

from . import account_deletion, email_change, exports
from .deps import AuthCtx, CurrentUser, SessionDep
from .schemas import EmailChangePending, EmailChangeRequest, ExportQueued, PasswordConfirmation

router = APIRouter(tags=["users"])

_ARCHIVE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The archive: profile, friends, conversations and the messages sent.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


@router.delete("/users/me", status_code=204, response_class=Response, responses=errors(400, 401))
async def delete_me(
    body: PasswordConfirmation, user: CurrentUser, session: SessionDep, ctx: AuthCtx
) -> Response:
    """Delete your account (asks for the password); every session ends."""
    await account_deletion.delete_account(ctx, session, user, password=body.password)
    return Response(status_code=204)


@router.post(
    "/users/me/email",
    status_code=202,
    response_model=EmailChangePending,
    responses=errors(400, 429),
)
async def change_email(
    body: EmailChangeRequest, user: CurrentUser, session: SessionDep, ctx: AuthCtx
) -> EmailChangePending:
    """Change your address: it is replaced once the link sent to it is used."""
    await email_change.request(ctx, session, user, email=body.email, password=body.password)
    return EmailChangePending(pending_email=body.email)


@router.post(
    "/users/me/export", status_code=202, response_model=ExportQueued, responses=errors(429)
)
async def export_me(user: CurrentUser, session: SessionDep, ctx: AuthCtx) -> ExportQueued:
    """Ask for an archive of your data; a download link is emailed when it is ready."""
    await exports.request(ctx, session, user)
    return ExportQueued()


@router.get(
    "/users/me/export/{token}",
    response_class=Response,
    responses={**_ARCHIVE_RESPONSE, **errors(404)},
)
async def download_export(
    session: SessionDep,
    ctx: AuthCtx,
    token: str = Path(min_length=20, max_length=100, description="The token from the email."),
) -> Response:
    """Download an export with the emailed link (no sign-in: the link is the credential)."""
    archive = await exports.archive(ctx, session, token)
    return Response(
        json.dumps(archive, ensure_ascii=False, indent=1).encode(),
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="parley-export.json"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
