"""The auth service's tables: users, login sessions (refresh families), refresh tokens, keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from parley_common.consumer import processed_events_table
from parley_common.db import TYPE_ANNOTATION_MAP, new_metadata, utcnow
from parley_common.outbox import outbox_table


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


# BIGINT on PostgreSQL; SQLite only autoincrements an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer, "sqlite")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    # NFC + casefold: the uniqueness key ("Zoë" and "ZOË" are one name).
    username_key: Mapped[str] = mapped_column(String(128), unique=True)
    # The TR39 confusable skeleton (confusables.py): lookalike names are one name.
    username_skeleton: Mapped[str] = mapped_column(String(256), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # When the user proved they read this address (a link from it); NULL: not yet.
    email_verified_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The stored avatar (`avatars/users/<id>/<random>`): a new key for each upload, so the URL
    #: changes with it and caches never show an old face.
    avatar_key: Mapped[str | None] = mapped_column(String(255))
    #: An address the user asked to move to, waiting for the link sent to it (NULL: none).
    pending_email: Mapped[str | None] = mapped_column(String(320), default=None)
    #: A deleted account is a tombstone: no name, address, password or avatar (accounts.py).
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def avatar_url(self) -> str | None:
        if self.avatar_key is None:
            return None
        return f"/users/{self.id}/avatar?v={self.avatar_key.rsplit('/', 1)[-1]}"


class LoginSession(Base):
    """One login: the family of its refresh tokens; its id is the access token's `sid`."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoke_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    # What GET /auth/sessions shows the user to tell their sessions apart: set at login, and
    # last_used_at at every refresh (an access token lives minutes, so it is close enough).
    user_agent: Mapped[str | None] = mapped_column(String(300), default=None)
    address: Mapped[str | None] = mapped_column(String(64), default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex
    session_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("login_sessions.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None] = mapped_column(default=None)


class EmailToken(Base):
    """A single-use link sent to an address: a password reset or an address verification.
    Only the SHA-256 of the token is stored."""

    __tablename__ = "email_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(16))  # reset | verify
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class ReservedIdentity(Base):
    """A deleted account's username, lookalike skeleton or address, kept from new accounts
    until `release_at` (a grace period against impersonation). Only the SHA-256 of the key is
    stored, and the row goes when it is released."""

    __tablename__ = "reserved_identities"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    release_at: Mapped[datetime] = mapped_column(index=True)


class DataExport(Base):
    """A user's request for their data: `pending` until every service stored its part
    (export.contributed), then `ready` with the download link's token (only its SHA-256)."""

    __tablename__ = "data_exports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | ready
    #: The services whose parts are stored, comma-separated (`chat`).
    parts: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)


class SigningKey(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16), default="EdDSA")
    private_key_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[str] = mapped_column(Text)  # JSON
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(default=None)


OUTBOX = outbox_table(Base.metadata)
PROCESSED_EVENTS = processed_events_table(Base.metadata)
