"""Ed25519 signing keys: generated and stored on first start, several kept, the newest signs.

JWKS serves every key that is not retired, so tokens signed by an older key keep verifying
until they expire after a rotation.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .models import SigningKey

ALGORITHM = "EdDSA"


@dataclass(frozen=True, slots=True)
class ActiveKey:
    kid: str
    private_key: Ed25519PrivateKey


def new_signing_key() -> SigningKey:
    private = Ed25519PrivateKey.generate()
    kid = secrets.token_urlsafe(12)
    jwk = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    jwk.update(kid=kid, alg=ALGORITHM, use="sig")
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return SigningKey(kid=kid, algorithm=ALGORITHM, private_key_pem=pem, public_jwk=json.dumps(jwk))


async def active_keys(session: AsyncSession) -> list[SigningKey]:
    """Non-retired keys, newest first."""
    rows = await session.scalars(
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid)
    )
    return list(rows)


async def jwks(session: AsyncSession) -> dict[str, Any]:
    return {"keys": [json.loads(k.public_jwk) for k in await active_keys(session)]}


async def rotate(session: AsyncSession) -> SigningKey:
    """Add a new key; it signs from the next KeyRing.load on, older ones still verify."""
    key = new_signing_key()
    session.add(key)
    await session.flush()
    return key


class KeyRing:
    """The key this process signs with (the newest active one at load time)."""

    def __init__(self) -> None:
        self._current: ActiveKey | None = None

    @property
    def current(self) -> ActiveKey:
        if self._current is None:
            raise RuntimeError("signing keys not loaded")
        return self._current

    async def load(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        async with sessionmaker() as session, session.begin():
            keys = await active_keys(session)
            if not keys:
                keys = [await rotate(session)]
        newest = keys[0]
        private = serialization.load_pem_private_key(newest.private_key_pem.encode(), password=None)
        assert isinstance(private, Ed25519PrivateKey)
        self._current = ActiveKey(newest.kid, private)
