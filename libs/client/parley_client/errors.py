"""Errors raised by the client."""

from __future__ import annotations

from typing import Any


class ParleyError(Exception):
    """The server refused a request: HTTP status (or the WebSocket handshake status), the
    `detail` of the error body (a string, or FastAPI's 422 list) and Parley's stable `code`."""

    def __init__(self, status: int, detail: Any, code: str | None = None) -> None:
        super().__init__(f"{status} {code or ''} {detail!r}".replace("  ", " "))
        self.status = status
        self.detail = detail
        self.code = code


class ProtocolViolation(Exception):
    """The server answered with a body that does not match PROTOCOL.md's model."""


class SocketClosed(Exception):
    """The socket was closed for good (by `close()`, or a 4001 that could not be re-authed)."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"socket closed ({code}) {reason}".strip())
        self.code = code
        self.reason = reason
