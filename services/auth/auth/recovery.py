"""Password reset and address verification by single-use links (issue 17).

A link's token is 32 random bytes; only its SHA-256 is stored. A reset link works for
`password_reset_minutes`, once; a new one (or a reset) voids the others. Resetting the password
ends every session (their sockets close). Asking for a reset answers the same whether or not
the address is registered, and sends nothing then; emails per account and per client address
are capped (`account_emails_per_hour`).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

import redis.asyncio as redis
import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import unit_of_work, utcnow
from parley_common.errors import Unavailable

from . import repository as repo
from .errors import InvalidEmailToken, TooManyEmails
from .mailer import compose
from .models import EmailToken, User
from .schemas import username_key as email_key
from .tokens import digest

if TYPE_CHECKING:
    from .service import AuthContext

log = structlog.get_logger(__name__)

RESET, VERIFY, CHANGE = "reset", "verify", "change"
QUOTA_PREFIX = "auth:account-emails"


async def within_quota(store: redis.Redis, key: str, limit: int) -> bool:
    try:
        async with store.pipeline(transaction=True) as pipe:
            pipe.incr(f"{QUOTA_PREFIX}:{key}")
            pipe.expire(f"{QUOTA_PREFIX}:{key}", 3600, nx=True)
            count, _ = await pipe.execute()
    except redis.RedisError as exc:
        raise Unavailable("Email temporarily unavailable") from exc
    return int(count) <= limit


async def new_token(
    session: AsyncSession,
    user: User,
    purpose: str,
    lifetime: timedelta,
    *,
    email: str | None = None,
) -> str:
    """A fresh link for `user` (to `email`, by default their address); the earlier unused ones
    of this purpose stop working."""
    now = utcnow()
    await void(session, user.id, purpose)
    token = secrets.token_urlsafe(32)
    session.add(
        EmailToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=digest(token),
            email=email or user.email,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    await session.flush()
    return token


async def use_token(session: AsyncSession, token: str, *purposes: str) -> tuple[User, str]:
    """The user a valid, unused, unexpired link of one of `purposes` belongs to, and that
    purpose; the link is used up."""
    row = await session.scalar(
        select(EmailToken)
        .where(EmailToken.token_hash == digest(token), EmailToken.purpose.in_(purposes))
        .with_for_update()
    )
    now = utcnow()
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise InvalidEmailToken()
    user = await repo.get_user(session, row.user_id)
    # A change link names the address asked for; the others the address they were sent to.
    meant = user.pending_email if user is not None and row.purpose == CHANGE else None
    current = meant if row.purpose == CHANGE else (user.email if user else None)
    if user is None or user.deleted_at is not None or current is None:
        raise InvalidEmailToken()
    if email_key(current) != email_key(row.email):
        raise InvalidEmailToken()  # the address changed (or another was asked for) since
    row.used_at = now
    return user, row.purpose


async def request_reset(
    ctx: AuthContext, session: AsyncSession, *, email: str, address: str
) -> None:
    """Only the client address's cap is checked before the answer; looking the address up,
    making the link and sending it happen after it, so a registered address answers in the
    same time as an unknown one (test_accounts.TestForgotPasswordTiming)."""
    if not await within_quota(
        ctx.store, f"addr:{address}", ctx.settings.account_emails_per_hour * 4
    ):
        raise TooManyEmails(retry_after=3600)
    ctx.mailer.run_later(_send_reset(ctx, email))


async def _send_reset(ctx: AuthContext, email: str) -> None:
    try:
        async with unit_of_work(ctx.sessionmaker) as session:
            await _reset_link(ctx, session, email)
    except Exception as exc:
        log.warning("reset.failed", error=f"{type(exc).__name__}: {exc}")


async def _reset_link(ctx: AuthContext, session: AsyncSession, email: str) -> None:
    # Locked: two requests in a row run in two background transactions, and the later one
    # must see (and void) the earlier one's link.
    user = await session.scalar(
        select(User).where(User.email_key == email_key(email)).with_for_update()
    )
    if user is None or user.deleted_at is not None:
        return
    if not await within_quota(ctx.store, f"user:{user.id}", ctx.settings.account_emails_per_hour):
        return  # the answer stays the same: nothing tells whether the address is registered
    settings = ctx.settings
    token = await new_token(
        session, user, RESET, timedelta(minutes=settings.password_reset_minutes)
    )
    ctx.mailer.send_later(
        compose(
            sender=settings.email_from,
            to=user.email,
            subject="Reset your Parley password",
            lines=[
                f"Hi {user.username},",
                "Someone (we hope you) asked to reset the password of your Parley account. "
                f"The link works once, for {settings.password_reset_minutes} minutes.",
                "If it was not you, ignore this email: your password stays as it is.",
            ],
            link=f"{settings.web_url.rstrip('/')}/?reset={token}",
            action="Choose a new password",
        )
    )


async def send_verification(
    ctx: AuthContext, session: AsyncSession, user: User, *, counted: bool = True
) -> None:
    """A verification link to the user's address; `counted=False` for the welcome email
    (one per new account: registering needs no store)."""
    limit = ctx.settings.account_emails_per_hour
    if counted and not await within_quota(ctx.store, f"user:{user.id}", limit):
        raise TooManyEmails(retry_after=3600)
    settings = ctx.settings
    token = await new_token(session, user, VERIFY, timedelta(days=settings.verification_days))
    ctx.mailer.send_later(
        compose(
            sender=settings.email_from,
            to=user.email,
            subject="Confirm your email address for Parley",
            lines=[
                f"Hi {user.username},",
                "Please confirm that this is your address: Parley sends your missed messages "
                "and password resets here.",
            ],
            link=f"{settings.web_url.rstrip('/')}/?verify={token}",
            action="Confirm my address",
        )
    )


def tell_old_address(ctx: AuthContext, user: User, old_email: str) -> None:
    """A changed address: the old one hears of it, in case it was not its owner's doing."""
    settings = ctx.settings
    ctx.mailer.send_later(
        compose(
            sender=settings.email_from,
            to=old_email,
            subject="Your Parley email address was changed",
            lines=[
                f"Hi {user.username},",
                f"The email address of your Parley account is now {user.email}.",
                "If you did not change it, someone else knows your password: sign in, change "
                "your password and your address back, and end your other sessions.",
            ],
            link=f"{settings.web_url.rstrip('/')}/",
            action="Open Parley",
        )
    )


async def reset_password(
    ctx: AuthContext, session: AsyncSession, *, token: str, password: str
) -> None:
    """Set the password from a reset link; every session of the user ends."""
    from .service import revoke_other_sessions  # the service module imports this one

    user, _ = await use_token(session, token, RESET)
    user.password_hash = await ctx.hasher.hash(password)
    # The link proves the address too.
    user.email_verified_at = user.email_verified_at or utcnow()
    await void(session, user.id, RESET)
    await revoke_other_sessions(session, ctx, user.id, current_sid="", reason="password_reset")


async def verify(ctx: AuthContext, session: AsyncSession, *, token: str) -> User:
    """A verification link confirms the address; an address-change link (sent to the new
    address) confirms it and makes it the account's (email_change.py)."""
    from . import email_change  # it imports this module

    user, purpose = await use_token(session, token, VERIFY, CHANGE)
    if purpose == CHANGE:
        await email_change.complete(ctx, session, user)
    elif user.email_verified_at is None:
        user.email_verified_at = utcnow()
    return user


async def void(session: AsyncSession, user_id: int, purpose: str) -> None:
    await session.execute(
        update(EmailToken)
        .where(EmailToken.user_id == user_id, EmailToken.purpose == purpose)
        .where(EmailToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
