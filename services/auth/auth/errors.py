"""Auth errors; detail texts are PROTOCOL.md's and clients match on them."""

from __future__ import annotations

from parley_common.errors import BadRequest, Forbidden, NotFound, RateLimited, Unauthorized


class UsernameTaken(BadRequest):
    code, detail = "username_taken", "Username already taken"


class EmailTaken(BadRequest):
    code, detail = "email_taken", "Email already registered"


class UsernameExists(BadRequest):
    code, detail = "username_taken", "Username already exists"


class EmailExists(BadRequest):
    code, detail = "email_taken", "Email already exists"


class WrongCurrentPassword(BadRequest):
    code, detail = "wrong_password", "Current password is incorrect"


class InvalidCredentials(Unauthorized):
    code, detail = "invalid_credentials", "Invalid credentials"


class InvalidRefreshToken(Unauthorized):
    code, detail = "invalid_refresh_token", "Invalid refresh token"


class RefreshTokenReused(InvalidRefreshToken):
    """A rotated token came back: the family is revoked, and that must be committed even
    though the request fails (see deps.get_session)."""

    commit_anyway = True


class LoginThrottled(RateLimited):
    code, detail = "login_throttled", "Too many failed login attempts"


class SessionNotFound(NotFound):
    code, detail = "session_not_found", "Session not found"


class InvalidEmailToken(BadRequest):
    code, detail = "invalid_token", "Invalid or expired link"


class EmailNotVerified(Forbidden):
    code, detail = "email_not_verified", "Email not verified"


class TooManyEmails(RateLimited):
    code, detail = "too_many_emails", "Too many emails requested; try again later"


class WrongPassword(BadRequest):
    """Deleting the account or changing its address: the password, asked again."""

    code, detail = "wrong_password", "Password is incorrect"


class ExportPending(RateLimited):
    code, detail = "export_pending", "An export is already being prepared"


class ExportNotFound(NotFound):
    code, detail = "export_not_found", "Export link is invalid or has expired"
