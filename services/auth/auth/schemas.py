"""Request and response bodies of the auth routes (PROTOCOL.md, Auth and users)."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, EmailStr, Field

from parley_common.schemas import StatusOk, UserPublic, UserRead, UserRef

from .confusables import is_invisible

__all__ = ["StatusOk", "UserPublic", "UserRead", "UserRef"]

USERNAME_MIN, USERNAME_MAX = 3, 32
_USERNAME_PUNCTUATION = frozenset("_.-")


def normalize_username(value: str) -> str:
    """3–32 Unicode letters, digits, `_ . -` as sent (combining marks may follow a letter, which
    scripts such as Devanagari need); no invisible characters; then NFKC (fullwidth and other
    compatibility forms become the plain letters), at most 32 characters after it too.
    Lookalikes of a taken name are refused by its confusable skeleton (confusables.py).

    The rule applies to the name as sent, which is what the OpenAPI document's pattern and
    lengths describe (a letter such as `ŀ` may normalise to `l·`, and that is still a name
    made of letters)."""
    length_error = f"Username must be {USERNAME_MIN} to {USERNAME_MAX} characters long"
    if not USERNAME_MIN <= len(value) <= USERNAME_MAX:
        raise ValueError(length_error)
    _check_characters(value)
    value = unicodedata.normalize("NFKC", value)
    if len(value) > USERNAME_MAX:  # a compatibility character may expand to several
        raise ValueError(length_error)
    if any(is_invisible(ch) for ch in value):
        raise ValueError("Username may not contain invisible characters")
    return value


def _check_characters(value: str) -> None:
    if any(is_invisible(ch) for ch in value):
        raise ValueError("Username may not contain invisible characters")
    for i, ch in enumerate(value):
        category = unicodedata.category(ch)
        if category.startswith("L") or category == "Nd" or ch in _USERNAME_PUNCTUATION:
            continue
        if category.startswith("M") and i > 0:
            continue
        raise ValueError("Username may contain only letters, digits, '_', '.' and '-'")


def username_key(value: str) -> str:
    """The case-insensitive identity of a name or an email."""
    return unicodedata.normalize("NFC", value).casefold()


# The rule of normalize_username as JSON Schema, for the OpenAPI document (ECMA-262 regex with
# Unicode property escapes; the length and the rule apply after NFKC normalisation).
USERNAME_PATTERN = r"^[\p{L}\p{Nd}_.\-][\p{L}\p{M}\p{Nd}_.\-]*$"
Username = Annotated[
    str,
    AfterValidator(normalize_username),
    Field(
        json_schema_extra={
            "minLength": USERNAME_MIN,
            "maxLength": USERNAME_MAX,
            "pattern": USERNAME_PATTERN,
        },
        description="3–32 Unicode letters, digits, `_ . -` (NFKC-normalised; unique ignoring "
        "case and lookalikes).",
    ),
]
Password = Annotated[str, Field(min_length=8, max_length=128)]


class RegisterRequest(BaseModel):
    username: Username
    email: EmailStr
    password: Password


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=320, description="Username or email")
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    refresh_token: str
    expires_in: int


class UserUpdate(BaseModel):
    username: Username | None = None
    email: EmailStr | None = None


class AccountRead(UserRead):
    """The caller's own account: whether their address is confirmed, too."""

    email_verified: bool
    pending_email: str | None = Field(
        default=None,
        description="An address waiting for its confirmation link to replace `email`.",
    )


def account_of(user: Any) -> AccountRead:
    return AccountRead.model_validate(user)


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: Password


class PasswordChanged(BaseModel):
    status: Literal["success"] = "success"
    message: str = "Password updated successfully"


class PasswordConfirmation(BaseModel):
    password: str = Field(min_length=1, max_length=1024)


class EmailChangeRequest(BaseModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=1024)


class EmailChangePending(BaseModel):
    status: Literal["pending"] = "pending"
    pending_email: str


class ExportQueued(BaseModel):
    status: Literal["queued"] = "queued"
    message: str = "Your data is being gathered; a download link will be emailed to you"
