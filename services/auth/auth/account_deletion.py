"""Deleting an account (issue 17, `DELETE /users/me`), in one transaction:

- every login session ends (session.revoked: the gateways close its sockets with 4001), then
  the sessions, refresh tokens, email links and exports are deleted;
- the username, its lookalike skeleton and the address are held back for
  `deleted_username_grace_days` (reservations.py), so nobody passes for the user at once;
- the row stays as a tombstone without personal data ("Deleted user", no address, no
  password, no avatar): its id keeps naming the sender of the messages others still see;
- `user.deleted` goes out through the outbox: chat and notify remove what they hold.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import utcnow
from parley_common.events import UserDeleted, envelope, svc_key
from parley_common.schemas import DELETED_USERNAME, deleted_user_key
from parley_common.storage import delete_after_commit

from . import email_change, exports, reservations
from . import repository as repo
from .models import DataExport, EmailToken, LoginSession, User

if TYPE_CHECKING:
    from .service import AuthContext

UNUSABLE_PASSWORD_HASH = "!"  # no argon2 hash: nothing verifies against it


async def delete_account(
    ctx: AuthContext, session: AsyncSession, user: User, *, password: str
) -> None:
    from .service import PRODUCER, revoke_session  # the service module imports this one

    await email_change.check_password(ctx, user, password)
    now = utcnow()
    until = now + timedelta(days=ctx.settings.deleted_username_grace_days)
    await reservations.reserve(
        session,
        [user.username_key, user.username_skeleton, user.email_key],
        until=until,
    )
    for sid in await repo.live_session_ids(session, user.id):
        await revoke_session(session, ctx, user.id, sid, reason="account_deleted")
    # The revocations are in the outbox; the sessions (browsers, addresses) go with their tokens.
    await session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    await session.execute(delete(EmailToken).where(EmailToken.user_id == user.id))
    own_exports = await session.scalars(select(DataExport).where(DataExport.user_id == user.id))
    await exports.forget(session, ctx.storage, list(own_exports))
    if user.avatar_key:
        delete_after_commit(session, ctx.storage, user.avatar_key)
    # Events already published that name the user (user.registered, ...) go now, not at
    # outbox retention.
    await ctx.outbox.forget_published(
        session, [user.username, user.email, user.pending_email or ""]
    )
    key = deleted_user_key(user.id)
    user.username, user.username_key, user.username_skeleton = DELETED_USERNAME, key, key
    user.email, user.email_key, user.pending_email = "", key, None
    user.password_hash, user.avatar_key = UNUSABLE_PASSWORD_HASH, None
    user.email_verified_at, user.deleted_at = None, now
    await session.flush()
    await ctx.outbox.add(
        session,
        envelope(UserDeleted(user_id=user.id, deleted_at=now), producer=PRODUCER),
        [svc_key(UserDeleted.EVENT_TYPE)],
    )
