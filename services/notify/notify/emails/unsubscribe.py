"""One-click unsubscribe tokens: `<user_id>.<base64url HMAC-SHA256>` with the
`unsubscribe_secret` setting. They do not expire (an old email's link should still work)."""

from __future__ import annotations

import base64
import hashlib
import hmac


def _signature(secret: str, user_id: int) -> str:
    digest = hmac.new(secret.encode(), f"unsubscribe:{user_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_token(secret: str, user_id: int) -> str:
    return f"{user_id}.{_signature(secret, user_id)}"


def read_token(secret: str, token: str) -> int | None:
    """The user id the token was made for, or None when it is malformed or forged."""
    user_part, _, signature = token.partition(".")
    if not user_part.isdigit() or not signature:
        return None
    user_id = int(user_part)
    if not hmac.compare_digest(signature.encode(), _signature(secret, user_id).encode()):
        return None
    return user_id
