"""Calls a socket makes to chat, with the user's own token, and their errors as frames."""

from __future__ import annotations

from typing import Any

import httpx

from parley_common import frames as fr
from parley_common.errors import code_for_status

from ..upstreams import is_unreachable
from .connection import Connection

RETRY_AFTER_SECONDS = 1.0


class ChatError(Exception):
    def __init__(self, frame: fr.ErrorFrame) -> None:
        super().__init__(frame.code)
        self.frame = frame


def error_from_response(response: httpx.Response) -> fr.ErrorFrame:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    status = response.status_code
    detail = body.get("detail", response.reason_phrase)
    if status == 422:
        return fr.ErrorFrame(code="bad_request", detail=detail)
    if status == 429:
        retry = float(body.get("retry_after") or response.headers.get("retry-after") or 1)
        return fr.ErrorFrame(code="rate_limited", detail=detail, retry_after=retry)
    if status >= 500:
        return fr.ErrorFrame(
            code="unavailable",
            detail="Chat temporarily unavailable",
            retry_after=RETRY_AFTER_SECONDS,
        )
    code = body.get("code") or code_for_status(status)
    if status == 401:
        code = "unauthorized"
    return fr.ErrorFrame(code=code, detail=detail)


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
