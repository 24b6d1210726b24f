"""Business rules of auth: accounts, logins, refresh rotation, profile changes.

Functions never commit: the request's session dependency commits when they return (and, for
RefreshTokenReused only, also when they raise), so events written to the outbox leave only
with the change they describe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import redis.asyncio as redis
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parley_common.db import utcnow
from parley_common.events import (
    SessionRevoked,
    UserRegistered,
    UserUpdated,
    envelope,
    svc_key,
    user_key,
)
from parley_common.outbox import Outbox
from parley_common.storage import Storage

from . import email_change, recovery, reservations
from . import repository as repo
from .config import Settings
from .confusables import skeleton
from .errors import (
    EmailExists,
    EmailNotVerified,
    EmailTaken,
    InvalidCredentials,
    InvalidRefreshToken,
    RefreshTokenReused,
    UsernameExists,
    UsernameTaken,
    WrongCurrentPassword,
)
from .keys import KeyRing
from .mailer import Mailer
from .metrics import LOGINS, REFRESHES
from .models import LoginSession, RefreshToken, User
from .passwords import PasswordHasher
from .schemas import PasswordChange, RegisterRequest, TokenResponse, UserUpdate, username_key
from .throttle import LoginThrottle
from .tokens import digest, issue_access_token, new_refresh_token, new_session_id

PRODUCER = "auth"


@dataclass(frozen=True, slots=True)
class AuthContext:
    """What the auth routes need besides the database session (built once in the lifespan)."""

    settings: Settings
    hasher: PasswordHasher
    keyring: KeyRing
    throttle: LoginThrottle
    outbox: Outbox
    mailer: Mailer
    store: redis.Redis
    storage: Storage
    #: For work done after the answer in a transaction of its own (a reset link).
    sessionmaker: async_sessionmaker[AsyncSession]


# --- accounts --------------------------------------------------------------------------------


async def register(session: AsyncSession, ctx: AuthContext, data: RegisterRequest) -> User:
    name_key, mail_key = username_key(data.username), username_key(data.email)
    await _check_free(session, name_key, mail_key, UsernameTaken, EmailTaken)
    user = User(
        username=data.username,
        username_key=name_key,
        username_skeleton=skeleton(name_key),
        email=data.email,
        email_key=mail_key,
        password_hash=await ctx.hasher.hash(data.password),
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        # A concurrent registration took the name or the email between check and insert. The
        # request's unit of work rolls back (parley_common.db.unit_of_work), not this function.
        raise _taken(exc, UsernameTaken, EmailTaken) from None
    await publish_user(session, ctx, user, UserRegistered)
    await recovery.send_verification(ctx, session, user, counted=False)
    return user


async def update_profile(
    session: AsyncSession, ctx: AuthContext, user: User, data: UserUpdate
) -> User:
    """A new username applies at once; a new email starts a confirmed change (email_change.py):
    the address stays until the link sent to the new one is used."""
    name_key = username_key(data.username) if data.username is not None else None
    mail_key = username_key(data.email) if data.email is not None else None
    if mail_key is not None and mail_key == user.email_key:
        mail_key = None  # the same address (perhaps in other letter case): no change
    await _check_free(session, name_key, mail_key, UsernameExists, EmailExists, user_id=user.id)
    if data.username is not None and data.username != user.username:
        user.username, user.username_key = data.username, name_key or ""
        user.username_skeleton = skeleton(name_key or data.username)
        try:
            await session.flush()
        except IntegrityError as exc:
            raise _taken(exc, UsernameExists, EmailExists) from None
        await publish_user(session, ctx, user, UserUpdated)
    if data.email is not None and mail_key is not None:
        await email_change.start(ctx, session, user, data.email)
    return user


async def change_password(
    session: AsyncSession, ctx: AuthContext, user: User, data: PasswordChange, *, current_sid: str
) -> None:
    """Set a new password and end every other login of the user (a stolen session dies too)."""
    valid, _ = await ctx.hasher.verify(data.current_password, user.password_hash)
    if not valid:
        raise WrongCurrentPassword()
    user.password_hash = await ctx.hasher.hash(data.new_password)
    await revoke_other_sessions(session, ctx, user.id, current_sid, reason="password_changed")


async def revoke_other_sessions(
    session: AsyncSession, ctx: AuthContext, user_id: int, current_sid: str, *, reason: str
) -> int:
    """End every login of the user but `current_sid`; how many there were."""
    revoked = 0
    for sid in await repo.live_session_ids(session, user_id):
        if sid != current_sid:
            await revoke_session(session, ctx, user_id, sid, reason=reason)
            revoked += 1
    return revoked


async def search(
    session: AsyncSession, ctx: AuthContext, *, q: str, exclude_id: int | None
) -> list[User]:
    prefix = username_key(q.strip())
    if not prefix:
        return []
    found = await repo.search_users(
        session, prefix_key=prefix, limit=ctx.settings.user_search_limit, exclude_id=exclude_id
    )
    return list(found)


def _taken(
    exc: IntegrityError, name_error: type[Exception], mail_error: type[Exception]
) -> Exception:
    """The error for a unique violation: the email's constraint (`uq_users_email_key` on
    PostgreSQL, `users.email_key` on SQLite) or else one of the name's (key or skeleton)."""
    return mail_error() if "email_key" in str(exc.orig) else name_error()


async def _check_free(
    session: AsyncSession,
    name_key: str | None,
    mail_key: str | None,
    name_error: type[Exception],
    mail_error: type[Exception],
    *,
    user_id: int | None = None,
) -> None:
    if name_key is not None:
        if await reservations.is_reserved(session, name_key) or await reservations.is_reserved(
            session, skeleton(name_key)
        ):
            raise name_error()  # a deleted account's name, within its grace period
        other = await repo.user_by_username_key(session, name_key)
        if other is None:
            # A lookalike of a taken name answers exactly as the taken name does (the same
            # status and text; docs/decisions.md), so it tells nothing more.
            other = await repo.user_by_skeleton(session, skeleton(name_key))
        if other is not None and other.id != user_id:
            raise name_error()
    if mail_key is not None:
        if await reservations.is_reserved(session, mail_key):
            raise mail_error()
        other = await repo.user_by_email_key(session, mail_key)
        if other is not None and other.id != user_id:
            raise mail_error()


async def publish_user_updated(session: AsyncSession, ctx: AuthContext, user: User) -> None:
    await publish_user(session, ctx, user, UserUpdated)


async def publish_user(
    session: AsyncSession,
    ctx: AuthContext,
    user: User,
    event: type[UserRegistered] | type[UserUpdated],
) -> None:
    data = event(
        user_id=user.id,
        username=user.username,
        email=user.email,
        created_at=user.created_at,
        email_verified=user.email_verified,
    )
    if isinstance(data, UserUpdated):
        data.avatar_url = user.avatar_url
    await ctx.outbox.add(session, envelope(data, producer=PRODUCER), [svc_key(event.EVENT_TYPE)])


# --- logins and tokens -----------------------------------------------------------------------


async def login(
    session: AsyncSession,
    ctx: AuthContext,
    *,
    identifier: str,
    password: str,
    address: str,
    user_agent: str | None = None,
) -> TokenResponse:
    """Username or email, then password; failures are counted per name and per address."""
    key = username_key(identifier)
    if "@" in key:  # usernames cannot contain "@"
        user = await repo.user_by_email_key(session, key)
    else:
        user = await repo.user_by_username_key(session, key)
    if user is not None and user.deleted_at is not None:
        user = None  # a tombstone answers as an unknown name does
    # Count failures against the account when it exists, so name and email share one budget.
    throttle_key = f"id:{user.id}" if user is not None else f"name:{key}"
    try:
        await ctx.throttle.check(throttle_key, address)
    except Exception:
        LOGINS.labels("throttled").inc()
        raise
    if user is None:
        await ctx.hasher.verify_dummy(password)
        valid, new_hash = False, None
    else:
        valid, new_hash = await ctx.hasher.verify(password, user.password_hash)
    if user is None or not valid:
        LOGINS.labels("failed").inc()
        await ctx.throttle.record_failure(throttle_key, address)
        raise InvalidCredentials()
    if new_hash is not None:  # cost parameters changed since this hash was made
        user.password_hash = new_hash
    await ctx.throttle.reset_user(throttle_key)
    if ctx.settings.require_verified_email and user.email_verified_at is None:
        raise EmailNotVerified()
    login_session = LoginSession(
        id=new_session_id(),
        user_id=user.id,
        user_agent=(user_agent or "")[:300] or None,
        address=address[:64],
        last_used_at=utcnow(),
    )
    session.add(login_session)
    await session.flush()
    LOGINS.labels("ok").inc()
    return await _issue_tokens(session, ctx, user, login_session.id)


async def refresh(session: AsyncSession, ctx: AuthContext, refresh_token: str) -> TokenResponse:
    """Rotate: the presented token is spent and a new one of the same family is issued. A spent
    token presented again means it leaked: the whole family is revoked."""
    token = await repo.get_refresh_token(session, digest(refresh_token))
    if token is None:
        REFRESHES.labels("invalid").inc()
        raise InvalidRefreshToken()
    login_session = await session.get(LoginSession, token.session_id)
    if login_session is None or login_session.revoked_at is not None:
        REFRESHES.labels("revoked").inc()
        raise InvalidRefreshToken()
    now = utcnow()
    if token.rotated_at is not None or not await repo.mark_rotated(session, token.id, now):
        REFRESHES.labels("reused").inc()
        await revoke_session(session, ctx, login_session.user_id, login_session.id, reason="reuse")
        raise RefreshTokenReused()
    if token.expires_at <= now:
        REFRESHES.labels("expired").inc()
        raise InvalidRefreshToken()
    user = await repo.get_user(session, login_session.user_id)
    if user is None or user.deleted_at is not None:
        raise InvalidRefreshToken()
    REFRESHES.labels("ok").inc()
    login_session.last_used_at = now
    return await _issue_tokens(session, ctx, user, login_session.id)


async def logout(session: AsyncSession, ctx: AuthContext, refresh_token: str) -> None:
    """Revoke the token's family. Unknown or spent tokens are fine too (as RFC 7009 does)."""
    token = await repo.get_refresh_token(session, digest(refresh_token))
    if token is None:
        return
    login_session = await session.get(LoginSession, token.session_id)
    if login_session is not None:
        await revoke_session(session, ctx, login_session.user_id, login_session.id, reason="logout")


async def _issue_tokens(
    session: AsyncSession, ctx: AuthContext, user: User, sid: str
) -> TokenResponse:
    settings = ctx.settings
    plain = new_refresh_token()
    session.add(
        RefreshToken(
            token_hash=digest(plain),
            session_id=sid,
            expires_at=utcnow() + timedelta(days=settings.refresh_token_days),
        )
    )
    await session.flush()
    access = issue_access_token(
        ctx.keyring.current,
        user_id=user.id,
        username=user.username,
        sid=sid,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        lifetime_seconds=settings.access_token_minutes * 60,
    )
    return TokenResponse(
        access_token=access.token, refresh_token=plain, expires_in=access.expires_in
    )


async def revoke_session(
    session: AsyncSession, ctx: AuthContext, user_id: int, sid: str, *, reason: str
) -> None:
    if await repo.revoke_session(session, sid, reason=reason, now=utcnow()):
        await ctx.outbox.add(
            session,
            envelope(
                SessionRevoked(
                    user_id=user_id,
                    sid=sid,
                    # Access tokens already issued stay valid this long: the gateways refuse
                    # them (session denylist) until then.
                    access_until=utcnow() + timedelta(minutes=ctx.settings.access_token_minutes),
                ),
                producer=PRODUCER,
            ),
            [user_key(user_id, SessionRevoked.EVENT_TYPE)],
        )
