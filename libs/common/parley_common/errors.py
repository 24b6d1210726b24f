"""One error base with stable codes, and the handlers that turn errors into PROTOCOL.md's shape."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

log = structlog.get_logger(__name__)


class ServiceError(Exception):
    """A domain error: `detail` is the text clients see, `code` the stable machine code."""

    status_code: int = 400
    code: str = "bad_request"
    detail: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.detail = detail or self.detail
        self.code = code or self.code
        self.status_code = status_code or self.status_code
        self.headers = headers or {}
        super().__init__(self.detail)


class BadRequest(ServiceError):
    status_code, code, detail = 400, "bad_request", "Bad request"


class UploadTooLarge(ServiceError):
    status_code, code, detail = 413, "too_large", "File too large"


class UnsupportedMediaType(ServiceError):
    status_code, code, detail = 415, "unsupported_media_type", "This type of file is not allowed"


class InvalidFile(ServiceError):
    """A corrupt image or a decompression bomb (the type was allowed, the content is not)."""

    status_code, code, detail = 422, "invalid_file", "The file is damaged or too large to decode"


class Unauthorized(ServiceError):
    status_code, code, detail = 401, "unauthorized", "Could not validate credentials"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class Forbidden(ServiceError):
    status_code, code, detail = 403, "forbidden", "Forbidden"


class NotFound(ServiceError):
    status_code, code, detail = 404, "not_found", "Not found"


class Conflict(ServiceError):
    status_code, code, detail = 409, "conflict", "Conflict"


class RateLimited(ServiceError):
    status_code, code, detail = 429, "rate_limited", "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: float, **kwargs: Any) -> None:
        self.retry_after = retry_after
        kwargs.setdefault("headers", {"Retry-After": str(max(1, round(retry_after)))})
        super().__init__(detail, **kwargs)


class Unavailable(ServiceError):
    status_code, code, detail = 503, "unavailable", "Service temporarily unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: float = 1, **kwargs: Any) -> None:
        self.retry_after = retry_after
        kwargs.setdefault("headers", {"Retry-After": str(max(1, round(retry_after)))})
        super().__init__(detail, **kwargs)


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "validation_error",
    429: "rate_limited",
    502: "bad_gateway",
    503: "unavailable",
    504: "timeout",
}


def _backend_down_errors() -> tuple[type[Exception], ...]:
    import sqlalchemy.exc

    errors: list[type[Exception]] = [
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.InterfaceError,
        sqlalchemy.exc.TimeoutError,  # connection pool exhausted
        ConnectionError,
    ]
    try:
        import asyncpg

        errors += [asyncpg.TooManyConnectionsError, asyncpg.CannotConnectNowError]
    except ImportError:  # pragma: no cover - asyncpg is a dependency of common
        pass
    return tuple(errors)


_BACKEND_DOWN = _backend_down_errors()


def _is_down(exc: Exception) -> bool:
    # asyncpg errors reach SQLAlchemy wrapped; the original class name survives in the text.
    text = str(exc)
    return any(
        marker in text
        for marker in (
            "too many clients",
            "TooManyConnections",
            "connection was closed",
            "Connection refused",
        )
    )


def code_for_status(status: int) -> str:
    return _STATUS_CODES.get(status, "internal_error" if status >= 500 else "bad_request")


def error_body(detail: Any, code: str) -> dict[str, Any]:
    return {"detail": detail, "code": code}


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


def allowed_methods(routes: Iterable[BaseRoute], path: str) -> list[str]:
    """Every method some route serves at `path` (a 405's `Allow`: Starlette names only those
    of the first route that matched the path, and a path often has one route per method).
    Asked through the routes' own matching, which also sees into included routers."""
    routes = list(routes)
    allowed = []
    for method in HTTP_METHODS:
        scope = {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}
        if any(route.matches(scope)[0] == Match.FULL for route in routes):
            allowed.append(method)
    return allowed


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as JSON `{"detail", "code"}`; 422 keeps FastAPI's list shape. The
    app's OpenAPI document says so for every status a route can answer (openapi.py)."""
    from .openapi import install_openapi

    install_openapi(app)

    async def on_service_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)
        body = error_body(exc.detail, exc.code)
        if isinstance(exc, RateLimited | Unavailable):
            body["retry_after"] = exc.retry_after
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            allow = allowed_methods(request.app.router.routes, request.url.path)
            headers = {**(headers or {}), "Allow": ", ".join(allow)}
        return JSONResponse(
            error_body(exc.detail, code_for_status(exc.status_code)),
            status_code=exc.status_code,
            headers=headers,
        )

    async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = jsonable_encoder(exc.errors())
        return JSONResponse(error_body(errors, "validation_error"), status_code=422)

    async def on_backend_down(_: Request, exc: Exception) -> JSONResponse:
        # The database is down or out of connections: a retryable 503, never a 500.
        log.warning("backend.unavailable", error=type(exc).__name__, detail=str(exc)[:200])
        return await on_service_error(_, Unavailable(retry_after=2))

    async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
        import sqlalchemy.exc

        assert isinstance(exc, sqlalchemy.exc.DBAPIError)
        if exc.connection_invalidated or isinstance(exc.orig, _BACKEND_DOWN) or _is_down(exc):
            return await on_backend_down(request, exc)
        log.error("database.error", error=type(exc).__name__, exc_info=exc)
        return JSONResponse(error_body("Internal Server Error", "internal_error"), status_code=500)

    import sqlalchemy.exc

    for exc_type in _BACKEND_DOWN:
        app.add_exception_handler(exc_type, on_backend_down)
    app.add_exception_handler(sqlalchemy.exc.DBAPIError, on_database_error)
    app.add_exception_handler(ServiceError, on_service_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
