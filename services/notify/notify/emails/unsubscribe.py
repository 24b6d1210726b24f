"""One-click unsubscribe tokens: `<user_id>.<base64url HMAC-SHA256>` with the
`unsubscribe_secret` setting. They do not expire (an old email's link should still work).

A token for every email (missed messages, digest, every type) signs the user id; one in a
notification's email also signs its type, so its link turns off email for that type only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def _signature(secret: str, user_id: int, type_: str | None) -> str:
    scope = f"unsubscribe:{user_id}" + (f":{type_}" if type_ is not None else "")
    digest = hmac.new(secret.encode(), scope.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_token(secret: str, user_id: int, type_: str | None = None) -> str:
    return f"{user_id}.{_signature(secret, user_id, type_)}"


def read_token(secret: str, token: str, type_: str | None = None) -> int | None:
    """The user id the token was made for (with this type), or None when it is malformed,
    forged, or made for another type."""
    user_part, _, signature = token.partition(".")
    if not user_part.isdigit() or not signature:
        return None
    user_id = int(user_part)
    expected = _signature(secret, user_id, type_)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    return user_id
