"""Bad input is refused before any route sees it: a clear 4xx, never a 5xx (ARCHITECTURE.md,
Security rules).

- A body over `max_body_bytes` gets 413, from its Content-Length before anything is read, or as
  soon as a chunked body passes the limit (it is never read whole).
- JSON nested deeper than `MAX_JSON_DEPTH` gets 400: the parsers and error renderers recurse,
  and a deep document would end in a RecursionError (a 500).
- Invalid Unicode gets 422 in FastAPI's list shape: a body that is not UTF-8, lone surrogates
  (`"\\ud800"` is valid JSON but cannot be stored or re-encoded) and NUL characters (PostgreSQL
  text cannot hold them) in a JSON or form body, the path or the query.

The body is read once and handed on to the app, which reads it as usual. Uploads (multipart
bodies to `UPLOAD_PATHS`) are the exception: their limit is `max_upload_bytes` (plus the
multipart framing), and they are streamed to the app, never held whole here; one that passes the
limit gets 413 as soon as it does, whatever the app was about to answer.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024
#: Room for the multipart boundaries and part headers around an upload's bytes.
MULTIPART_OVERHEAD = 64 * 1024
#: Where files are uploaded (PROTOCOL.md): chat's attachments, auth's and chat's avatars.
UPLOAD_PATHS = re.compile(r"^/(attachments|users/me/avatar|conversations/[0-9]+/avatar)$")
MAX_JSON_DEPTH = 32
INVALID_UNICODE = "Invalid Unicode: lone surrogates and NUL characters are not allowed"

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_A_BRACKET = re.compile(rb"[^\[\]{}]")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class BodyTooLarge(Exception):
    pass


def json_depth(body: bytes) -> int:
    """The deepest nesting of `[`/`{` outside strings (cheap: the scan runs in the regex engine
    and only brackets are walked)."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return 0
    brackets = _NOT_A_BRACKET.sub(b"", _JSON_STRING.sub(b"", body))
    depth = deepest = 0
    for byte in brackets:
        depth += 1 if byte in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def is_clean_text(text: str) -> bool:
    """No lone surrogate (it cannot be encoded as UTF-8) and no NUL."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _clean_json(value: Any) -> bool:
    if isinstance(value, str):
        return is_clean_text(value)
    if isinstance(value, dict):
        return all(is_clean_text(k) and _clean_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_clean_json(v) for v in value)
    return True


def _invalid_unicode(loc: list[str]) -> JSONResponse:
    error = {"type": "string_unicode", "loc": loc, "msg": INVALID_UNICODE, "input": None}
    return JSONResponse({"detail": [error], "code": "validation_error"}, status_code=422)


def check_body(body: bytes, content_type: str) -> JSONResponse | None:
    """The refusal for a bad body, or None when the app may read it."""
    if not body:
        return None
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        return None  # no route takes uploads; the app refuses them as it does today
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return _invalid_unicode(["body"])
    if media_type in _FORM_TYPES:
        fields = parse_qsl(text, keep_blank_values=True)
        if not all(is_clean_text(k) and is_clean_text(v) for k, v in fields):
            return _invalid_unicode(["body"])
        return None
    # Any other body is parsed as JSON by some route (auth's login even without a JSON type).
    if json_depth(body) > MAX_JSON_DEPTH:
        detail = f"JSON nested too deeply (at most {MAX_JSON_DEPTH} levels)"
        return JSONResponse({"detail": detail, "code": "bad_request"}, status_code=400)
    if "\\u" in text or "\x00" in text:
        try:
            document = json.loads(text)
        except ValueError:
            return None  # not JSON: the route's own parser answers 422
        if not _clean_json(document):
            return _invalid_unicode(["body"])
    return None


def check_target(scope: Scope) -> JSONResponse | None:
    """NUL in the decoded path or query (lone surrogates cannot come out of their decoding)."""
    if "\x00" in scope.get("path", ""):
        return _invalid_unicode(["path"])
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in key or "\x00" in value:
                return _invalid_unicode(["query", key])
    return None


def is_upload(scope: Scope) -> bool:
    if scope.get("method") not in ("POST", "PUT") or not UPLOAD_PATHS.match(scope["path"]):
        return False
    for key, value in scope.get("headers") or []:
        if key.lower() == b"content-type":
            media_type: bytes = value.split(b";")[0].strip().lower()
            return media_type == b"multipart/form-data"
    return False


class RequestGuardMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_body = max_upload_bytes + MULTIPART_OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = check_target(scope)
        if refusal is None and is_upload(scope):
            await self._upload(scope, receive, send)
            return
        if refusal is None:
            headers = {k.lower(): v for k, v in scope.get("headers") or []}
            declared = headers.get(b"content-length", b"").strip()
            if declared.isdigit() and int(declared) > self.max_body_bytes:
                refusal = self._too_large()
            else:
                try:
                    body, more = await read_body(receive, self.max_body_bytes)
                except BodyTooLarge:
                    refusal = self._too_large()
                else:
                    content_type = headers.get(b"content-type", b"").decode("latin-1")
                    refusal = check_body(body, content_type)
                    if refusal is None:
                        await self.app(scope, replay(body, more, receive), send)
                        return
        await refusal(scope, receive, send)

    async def _upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Streams the body to the app, counting; past the limit the app reads a disconnect
        and whatever it answers is replaced by a 413."""
        limit = self.max_upload_body
        headers = {k.lower(): v for k, v in scope.get("headers") or []}
        declared = headers.get(b"content-length", b"").strip()
        if declared.isdigit() and int(declared) > limit:
            await self._too_large(limit)(scope, receive, send)
            return
        size = 0
        over = False
        started = False

        async def counted() -> Message:
            nonlocal size, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:
                return
            started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._too_large(limit)(scope, receive, send)

    def _too_large(self, limit: int | None = None) -> JSONResponse:
        return JSONResponse(
            {
                "detail": f"Request body too large (at most {limit or self.max_body_bytes} bytes)",
                "code": "too_large",
            },
            status_code=413,
            headers={"Connection": "close"},
        )


async def read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The whole body (BodyTooLarge past `limit` bytes); False once the client disconnected."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True


def replay(body: bytes, connected: bool, receive: Receive) -> Receive:
    """`receive` for an app after the body was read: the body first, then the real one."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if not connected:
            return {"type": "http.disconnect"}
        return await receive()  # the app waits for a disconnect (e.g. a streaming response)

    return replayed


def install_request_guard(
    app: FastAPI,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
) -> None:
    app.add_middleware(
        RequestGuardMiddleware, max_body_bytes=max_body_bytes, max_upload_bytes=max_upload_bytes
    )
