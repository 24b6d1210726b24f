"""Ed25519 signing keys: generated and stored on first start, several kept, the newest signs.

JWKS serves every key that is not retired, so tokens signed by an older key keep verifying
until they expire after a rotation; a key that no token still in use can carry is retired
(`retire_superseded`). Private keys are stored encrypted (Fernet) with a key derived from the
`key_encryption_key` setting; earlier keys in `previous_key_encryption_keys` still decrypt, so
that setting can be rotated too (`parley keys rotate` re-encrypts every row with the current).
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwt.algorithms import OKPAlgorithm
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parley_common.db import utcnow

from .models import SigningKey

ALGORITHM = "EdDSA"
SEALED = "fernet:"


@dataclass(frozen=True, slots=True)
class ActiveKey:
    kid: str
    private_key: Ed25519PrivateKey


def _fernet_key(secret: str) -> bytes:
    # Any long random string works as the setting (as `make secrets` makes them): HKDF turns
    # it into the 32 bytes Fernet takes.
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"parley signing keys"
    ).derive(secret.encode())
    return base64.urlsafe_b64encode(derived)


class KeyVault:
    """Seals private keys for storage and opens them again."""

    def __init__(self, current: str, previous: Sequence[str] = ()) -> None:
        self._fernet = MultiFernet([Fernet(_fernet_key(k)) for k in (current, *previous)])

    def seal(self, pem: str) -> str:
        return SEALED + self._fernet.encrypt(pem.encode()).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(SEALED):  # written before keys were encrypted
            return stored
        return self._fernet.decrypt(stored[len(SEALED) :].encode()).decode()

    def reseal(self, stored: str) -> str:
        """The same key sealed with the current encryption key."""
        if not stored.startswith(SEALED):
            return self.seal(stored)
        return SEALED + self._fernet.rotate(stored[len(SEALED) :].encode()).decode()


def new_signing_key(vault: KeyVault) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    kid = secrets.token_urlsafe(12)
    jwk = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    jwk.update(kid=kid, alg=ALGORITHM, use="sig")
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return SigningKey(
        kid=kid,
        algorithm=ALGORITHM,
        private_key_pem=vault.seal(pem),
        public_jwk=json.dumps(jwk),
        created_at=utcnow(),
    )


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


async def rotate(session: AsyncSession, vault: KeyVault) -> SigningKey:
    """Add a new key; auth processes sign with it from their next reload (`KeyRing`), and
    every stored key is re-sealed with the current encryption key."""
    for key in await active_keys(session):
        key.private_key_pem = vault.reseal(key.private_key_pem)
    key = new_signing_key(vault)
    session.add(key)
    await session.flush()
    return key


async def retire_superseded(
    session: AsyncSession, *, token_lifetime: timedelta, now: datetime | None = None
) -> list[str]:
    """Retire the keys no valid token can carry any more: older than the newest key by more
    than `token_lifetime` (the access tokens' lifetime plus the keyring's reload interval)."""
    now = now or utcnow()
    keys = await active_keys(session)
    if len(keys) < 2 or keys[0].created_at + token_lifetime > now:
        return []
    for old in keys[1:]:
        old.retired_at = now
    return [k.kid for k in keys[1:]]


async def seal_plaintext(session: AsyncSession, vault: KeyVault) -> int:
    """Encrypt the keys stored before encryption at rest; how many there were."""
    rows = await session.scalars(select(SigningKey))
    sealed = 0
    for key in rows:
        if not key.private_key_pem.startswith(SEALED):
            key.private_key_pem = vault.seal(key.private_key_pem)
            sealed += 1
    return sealed


class KeyRing:
    """The key this process signs with: the newest active one at the last load."""

    def __init__(self, vault: KeyVault) -> None:
        self._vault = vault
        self._current: ActiveKey | None = None

    @property
    def current(self) -> ActiveKey:
        if self._current is None:
            raise RuntimeError("signing keys not loaded")
        return self._current

    async def load(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        async with sessionmaker() as session, session.begin():
            await seal_plaintext(session, self._vault)
            keys = await active_keys(session)
            if not keys:
                keys = [await rotate(session, self._vault)]
            newest = keys[0]
            if self._current is not None and self._current.kid == newest.kid:
                return
            pem = self._vault.open(newest.private_key_pem)
        private = serialization.load_pem_private_key(pem.encode(), password=None)
        assert isinstance(private, Ed25519PrivateKey)
        self._current = ActiveKey(newest.kid, private)
