"""Data exports (issue 17): a user's archive, assembled from what each service holds.

1. `POST /users/me/export`: a `pending` row and `export.requested` (outbox). At most one
   pending export per user; an earlier export and its stored parts are replaced.
2. Each service in `export_parts` (chat: friends, conversations, the messages the user sent)
   stores its part as JSON under `exports/<export_id>/<service>.json` in the object storage the
   services share, and answers `export.contributed`.
3. When every part is in, auth makes the download link (32 random bytes, only its SHA-256
   kept, valid `export_link_hours`) and emails it to the user's address.
4. `GET /users/me/export/{token}` (no bearer token: the link is the credential) answers the
   archive: auth's profile and the parts, as one JSON attachment.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import utcnow
from parley_common.events import Envelope, ExportContributed, ExportRequested, envelope, svc_key
from parley_common.storage import ObjectNotFound, Storage, delete_after_commit

from .errors import ExportNotFound, ExportPending
from .mailer import compose
from .models import DataExport, User
from .tokens import digest

if TYPE_CHECKING:
    from .service import AuthContext

FORMAT = "parley.export.v1"


def part_key(export_id: int, service: str) -> str:
    return f"exports/{export_id}/{service}.json"


async def forget(session: AsyncSession, storage: Storage, exports: list[DataExport]) -> None:
    """Deletes these exports and, after the commit, their stored parts."""
    for export in exports:
        delete_after_commit(
            session, storage, *(part_key(export.id, s) for s in export.parts.split(",") if s)
        )
        await session.delete(export)


async def request(ctx: AuthContext, session: AsyncSession, user: User) -> DataExport:
    from .service import PRODUCER  # the service module imports this one

    earlier = list(
        await session.scalars(
            select(DataExport).where(DataExport.user_id == user.id).with_for_update()
        )
    )
    # A part that never came (a service down for long) must not block the user for good.
    stale_before = utcnow() - timedelta(hours=ctx.settings.export_link_hours)
    if any(e.status == "pending" and e.created_at > stale_before for e in earlier):
        raise ExportPending(retry_after=60)
    await forget(session, ctx.storage, earlier)
    export = DataExport(user_id=user.id, status="pending", parts="")
    session.add(export)
    await session.flush()
    await ctx.outbox.add(
        session,
        envelope(ExportRequested(export_id=export.id, user_id=user.id), producer=PRODUCER),
        [svc_key(ExportRequested.EVENT_TYPE)],
    )
    return export


async def on_contributed(ctx: AuthContext, session: AsyncSession, env: Envelope) -> None:
    """Handler for export.contributed: idempotent (a part already counted changes nothing, and a
    ready or forgotten export takes no more parts)."""
    e = env.parse(ExportContributed)
    export = await session.get(DataExport, e.export_id, with_for_update=True)
    if export is None or export.status != "pending" or export.user_id != e.user_id:
        return
    parts = {p for p in export.parts.split(",") if p} | {e.service}
    export.parts = ",".join(sorted(parts))
    if not set(ctx.settings.export_parts) <= parts:
        return
    user = await session.get(User, export.user_id)
    if user is None or user.deleted_at is not None:
        return
    token = secrets.token_urlsafe(32)
    export.status, export.token_hash = "ready", digest(token)
    export.expires_at = utcnow() + timedelta(hours=ctx.settings.export_link_hours)
    settings = ctx.settings
    ctx.mailer.send_later(
        compose(
            sender=settings.email_from,
            to=user.email,
            subject="Your Parley data is ready",
            lines=[
                f"Hi {user.username},",
                "The archive of your Parley data you asked for is ready: your profile, your "
                "friends, your conversations and the messages you sent, as one JSON file.",
                f"The link works for {settings.export_link_hours} hours. If you did not ask "
                "for it, change your password.",
            ],
            link=f"{settings.web_url.rstrip('/')}/users/me/export/{token}",
            action="Download my data",
        )
    )


async def archive(ctx: AuthContext, session: AsyncSession, token: str) -> dict[str, Any]:
    export = await session.scalar(select(DataExport).where(DataExport.token_hash == digest(token)))
    if export is None or export.expires_at is None or export.expires_at <= utcnow():
        raise ExportNotFound()
    user = await session.get(User, export.user_id)
    if user is None or user.deleted_at is not None:
        raise ExportNotFound()
    result: dict[str, Any] = {
        "format": FORMAT,
        "exported_at": utcnow().isoformat(),
        "profile": {
            "id": user.id,
            "username": user.username,
            "email": user.email,
            "email_verified": user.email_verified,
            "created_at": user.created_at.isoformat(),
            "avatar_url": user.avatar_url,
        },
    }
    for service in sorted(p for p in export.parts.split(",") if p):
        try:
            part = json.loads(await ctx.storage.get(part_key(export.id, service)))
        except ObjectNotFound:
            raise ExportNotFound() from None
        result.update(part)
    return result
