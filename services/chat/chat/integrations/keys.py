"""Integration keys: created and revoked by an operator (`parley integration-key`), stored as the
SHA-256 of a random 256-bit secret, checked on every `/integrations/` call."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import utcnow

from ..errors import BadRequest
from ..models import IntegrationKey

# Tells an integration key from a JWT at a glance (and in secret scanners).
PREFIX = "pik_"
NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
# last_used_at is a hint for operators; writing it on every call would cost a row update each.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class KeyNameTaken(BadRequest):
    code, detail = "integration_key_exists", "An integration key with this name already exists"


def generate() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_key(token: str) -> bool:
    return token.startswith(PREFIX)


async def create(session: AsyncSession, name: str) -> str:
    """A new key named `name`; the key itself is returned once and never stored."""
    if not NAME.match(name):
        raise BadRequest(
            "Key names are 1-64 letters, digits, '_', '.' or '-'", code="invalid_key_name"
        )
    key = generate()
    row = IntegrationKey(
        name=name,
        key_hash=hash_key(key),
        key_prefix=key[: len(PREFIX) + 6],
        created_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        raise KeyNameTaken()
    return key


async def revoke(session: AsyncSession, name: str) -> bool:
    """Revoke the key named `name`; False when there is no such key or it was already revoked."""
    row = await session.scalar(select(IntegrationKey).where(IntegrationKey.name == name))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    await session.flush()
    return True


async def list_all(session: AsyncSession) -> list[IntegrationKey]:
    return list(await session.scalars(select(IntegrationKey).order_by(IntegrationKey.name)))


async def authenticate(session: AsyncSession, key: str) -> IntegrationKey | None:
    """The live key matching `key`, or None (unknown or revoked)."""
    digest = hash_key(key)
    row = await session.scalar(select(IntegrationKey).where(IntegrationKey.key_hash == digest))
    # The lookup is by a hash of a high-entropy secret; compare in constant time all the same.
    if row is None or not hmac.compare_digest(row.key_hash, digest) or row.revoked_at is not None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = now
        await session.flush()
    return row
