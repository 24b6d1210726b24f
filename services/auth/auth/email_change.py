"""Changing the account's address (issue 17): the new address must answer before it replaces
the old one. The change is started with the password (`POST /users/me/email`; old clients'
`PUT /users/me` starts it too), stays in `users.pending_email` meanwhile, and completes when
the link sent to the new address is used (`POST /auth/verify`): the address is replaced and
confirmed, and the old address is told."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import utcnow
from parley_common.events import UserUpdated

from . import recovery, reservations
from . import repository as repo
from .errors import EmailExists, TooManyEmails, WrongPassword
from .mailer import compose
from .models import User
from .schemas import username_key

if TYPE_CHECKING:
    from .service import AuthContext


async def check_password(ctx: AuthContext, user: User, password: str) -> None:
    valid, _ = await ctx.hasher.verify(password, user.password_hash)
    if not valid:
        raise WrongPassword()


async def ensure_free(session: AsyncSession, user: User, email: str) -> None:
    key = username_key(email)
    other = await repo.user_by_email_key(session, key)
    if (other is not None and other.id != user.id) or await reservations.is_reserved(session, key):
        raise EmailExists()


async def request(
    ctx: AuthContext, session: AsyncSession, user: User, *, email: str, password: str
) -> None:
    await check_password(ctx, user, password)
    await ensure_free(session, user, email)
    await start(ctx, session, user, email)


async def start(ctx: AuthContext, session: AsyncSession, user: User, email: str) -> None:
    """Hold `email` as the pending address and send it the confirmation link (a new request
    voids the earlier link). Counted against the account's hourly email cap."""
    settings = ctx.settings
    if not await recovery.within_quota(
        ctx.store, f"user:{user.id}", settings.account_emails_per_hour
    ):
        raise TooManyEmails(retry_after=3600)
    user.pending_email = email
    token = await recovery.new_token(
        session, user, recovery.CHANGE, timedelta(days=settings.verification_days), email=email
    )
    ctx.mailer.send_later(
        compose(
            sender=settings.email_from,
            to=email,
            subject="Confirm your new email address for Parley",
            lines=[
                f"Hi {user.username},",
                "You asked to use this address for your Parley account. Until you confirm it, "
                f"your emails keep going to your current address ({user.email}).",
                "If it was not you, ignore this email: nothing changes.",
            ],
            link=f"{settings.web_url.rstrip('/')}/?verify={token}",
            action="Confirm my new address",
        )
    )


async def complete(ctx: AuthContext, session: AsyncSession, user: User) -> None:
    """The link from the new address was used: it becomes the account's, confirmed."""
    new_email = user.pending_email
    assert new_email is not None  # recovery.use_token checked it against the link
    await ensure_free(session, user, new_email)
    old_email = user.email
    user.email, user.email_key = new_email, username_key(new_email)
    user.email_verified_at, user.pending_email = utcnow(), None
    try:
        await session.flush()
    except IntegrityError:
        raise EmailExists() from None  # taken by a registration meanwhile
    # Links sent to the old address (a verification, a reset) no longer fit: void them.
    await recovery.void(session, user.id, recovery.VERIFY)
    await recovery.void(session, user.id, recovery.RESET)
    from .service import publish_user  # the service module imports this one

    await publish_user(session, ctx, user, UserUpdated)
    recovery.tell_old_address(ctx, user, old_email)
