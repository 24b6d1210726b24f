"""Access tokens (EdDSA JWTs) and opaque refresh tokens (stored as SHA-256 hashes).

Both are URL-path safe: a JWT is three base64url parts joined by dots, and refresh tokens
come from secrets.token_urlsafe.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt

from .keys import ALGORITHM, ActiveKey


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    expires_in: int


def issue_access_token(
    key: ActiveKey,
    *,
    user_id: int,
    username: str,
    sid: str,
    issuer: str,
    audience: str,
    lifetime_seconds: int,
) -> AccessToken:
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "id": user_id,  # old clients read `id` and `username`
        "username": username,
        "sid": sid,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime_seconds,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
    return AccessToken(token, lifetime_seconds)


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What auth stores of a secret (refresh tokens, emailed links, export links, reserved
    names): its SHA-256, in hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_session_id() -> str:
    return uuid.uuid4().hex
