"""OpenAPI documents that tell the whole truth about errors (issue 14).

FastAPI documents a route's 200 and, for routes with parameters, a 422 of its own shape. The
services answer more than that: every error leaves as `{"detail", "code"}` (errors.py), with
`retry_after` on 429 and 503, and some statuses come from layers a route never sees (the bearer
dependency, the request guard, a database that is down). `install_openapi(app)` documents
those on every operation they can reach; a route declares its own domain errors with
`responses=errors(403, 404)`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

ERROR_REF = "#/components/schemas/Error"

DESCRIPTIONS: dict[int, str] = {
    400: "Bad request: the input breaks a rule of this route, or its JSON is nested too deep.",
    401: "`Not authenticated` without a token; `Could not validate credentials` (with "
    "`WWW-Authenticate: Bearer`) for a bad, expired or revoked one.",
    403: "Forbidden: the caller may not do this (not an admin, blocked, not friends).",
    404: "Not found, or not visible to the caller.",
    405: "Method not allowed (the `Allow` header lists the methods that are).",
    409: "Conflict with the current state.",
    413: "Request body larger than the limit (PARLEY_MAX_BODY_BYTES; uploads: "
    "PARLEY_MAX_UPLOAD_BYTES).",
    415: "The file's type (decided by its bytes) is not allowed (PARLEY_ALLOWED_UPLOAD_TYPES).",
    422: "Invalid fields (FastAPI's list of issues in `detail`) or invalid Unicode.",
    429: "Too many requests: retry after `retry_after` seconds (also the `Retry-After` header).",
    502: "An upstream service gave a broken answer.",
    503: "Temporarily unavailable (a backend is down): retry after `retry_after` seconds.",
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 1},
    }
}
_WWW_AUTHENTICATE = {
    "WWW-Authenticate": {
        "description": "`Bearer` when a token was refused.",
        "schema": {"type": "string"},
    }
}
HEADERS: dict[int, dict[str, Any]] = {401: _WWW_AUTHENTICATE, 429: _RETRY_AFTER, 503: _RETRY_AFTER}


class ValidationIssue(BaseModel):
    """One entry of a 422's `detail` (FastAPI's shape)."""

    type: str
    loc: list[str | int]
    msg: str


class Error(BaseModel):
    """Every error response: PROTOCOL.md's `{"detail"}` plus a stable `code`."""

    detail: str | list[ValidationIssue] = Field(
        description="Text clients may match on (PROTOCOL.md quotes it), or the 422 list."
    )
    code: str = Field(description="Stable machine-readable code, e.g. `not_found`.")
    retry_after: float | None = Field(
        default=None, description="Seconds to wait before retrying (429 and 503 only)."
    )


def error_response(status: int, description: str | None = None) -> dict[str, Any]:
    """An OpenAPI response object for an error status, with the common schema."""
    response: dict[str, Any] = {
        "description": description or DESCRIPTIONS.get(status, "Error."),
        "content": {"application/json": {"schema": {"$ref": ERROR_REF}}},
    }
    if status in HEADERS:
        response["headers"] = HEADERS[status]
    return response


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route decorator: the domain errors the route raises."""
    return {
        status: {"model": Error, "description": DESCRIPTIONS.get(status, "Error.")}
        for status in statuses
    }


def add_error_components(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schema = Error.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    schemas["Error"] = schema
    # FastAPI's own 422 shapes are replaced by Error everywhere.
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) of every operation in the document."""
    methods = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
    return [
        (path, method, item[method])
        for path, item in document.get("paths", {}).items()
        for method in methods
        if method in item
    ]


def document_errors(document: dict[str, Any], *, backend: bool = True) -> dict[str, Any]:
    """Adds the statuses the layers around a route answer, each with the common schema:
    422 everywhere (the request guard refuses invalid Unicode in any path or query), 401
    where a bearer token is required, 400 and 413 where there is a body, 503 when the
    service has a backend that may be down."""
    add_error_components(document)
    for _, _, operation in operations(document):
        responses = operation.setdefault("responses", {})
        statuses = {422}
        if operation.get("security"):
            statuses.add(401)
        if "requestBody" in operation:
            statuses |= {400, 413}
        if backend:
            statuses.add(503)
        for status in statuses:
            responses.setdefault(str(status), error_response(status))
        for status, response in responses.items():
            if status.isdigit() and int(status) >= 400:
                # The route's own description (from errors()) stays; the shape is the common one.
                description = response.get("description")
                if description == "Validation Error":  # FastAPI's, for its own shape
                    description = None
                responses[status] = error_response(int(status), description)
        operation["responses"] = dict(sorted(responses.items()))
    return document


def install_openapi(app: FastAPI, *, backend: bool = True) -> None:
    """`app.openapi()` (and so /openapi.json) with every error status documented."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = document_errors(document, backend=backend)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
