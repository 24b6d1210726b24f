"""Calls a socket makes to chat, with the user's own token, and their errors as frames."""

from __future__ import annotations

from typing import Any

import httpx

from parley_common import frames as fr

from ..upstreams import is_unreachable
from .connection import Connection

RETRY_AFTER_SECONDS = 1.0


class ErrorFrame(fr.ErrorFrame):
    """An error frame whose `code` is one of PROTOCOL.md's; `reason` keeps the upstream's
    more specific code (e.g. `blocked`) for clients that want it. Left out when empty."""

    reason: str | None = None


class ChatError(Exception):
    def __init__(self, frame: fr.ErrorFrame) -> None:
        super().__init__(frame.code)
        self.frame = frame


def protocol_code(status: int) -> str:
    """PROTOCOL.md's error codes by HTTP status (any other 4xx is a bad request)."""
    if status in (401, 403):
        return "forbidden"
    if status == 404:
        return "not_found"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "unavailable"
    return "bad_request"


def error_from_response(response: httpx.Response) -> fr.ErrorFrame:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return error_frame(response.status_code, body, response.headers.get("retry-after"))


def error_frame(
    status: int, body: dict[str, Any], retry_after_header: str | None = None
) -> fr.ErrorFrame:
    """The error frame for chat's error answer (status, JSON body)."""
    if status >= 500:
        return unavailable()
    detail = body.get("detail", "Request failed")
    code = protocol_code(status)
    upstream = body.get("code")
    reason = upstream if isinstance(upstream, str) and upstream != code else None
    if code == "rate_limited":
        retry = float(body.get("retry_after") or retry_after_header or 1)
        return ErrorFrame(code=code, detail=detail, retry_after=retry, reason=reason)
    # Chat's detail text is kept verbatim: clients match on it.
    return ErrorFrame(code=code, detail=detail, reason=reason)


def unavailable() -> fr.ErrorFrame:
    return fr.ErrorFrame(
        code="unavailable", detail="Chat temporarily unavailable", retry_after=RETRY_AFTER_SECONDS
    )


async def call(
    chat: httpx.AsyncClient, conn: Connection, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    """A call as the user; raises ChatError with the error frame on any failure."""
    try:
        response = await chat.request(method, path, headers=conn.auth_header, **kwargs)
    except Exception as exc:
        if is_unreachable(exc) or isinstance(exc, httpx.HTTPError):
            raise ChatError(unavailable()) from exc
        raise
    if response.status_code >= 400:
        raise ChatError(error_from_response(response))
    return response


async def is_member(chat: httpx.AsyncClient, conversation_id: int, user_id: int) -> bool:
    """Membership from chat's internal API (raises ChatError when chat cannot answer)."""
    try:
        response = await chat.get(f"/internal/conversations/{conversation_id}/members/{user_id}")
    except httpx.HTTPError as exc:
        raise ChatError(unavailable()) from exc
    if response.status_code == 404:
        return False
    if response.status_code >= 400:
        raise ChatError(unavailable())
    return bool(response.json().get("member"))
