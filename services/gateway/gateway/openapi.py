"""The public API as one OpenAPI 3.1 document, at /openapi.json and /docs (issue 14).

Built from the services' own documents, which their FastAPI apps generate with every error
status (parley_common.openapi): of each, the paths the gateway routes to that service
(proxy.ROUTES) are kept, `/internal/` never; the edge adds what it answers itself before a
request reaches a service (rate limits, upstream failures, a revoked session). The gateway
fetches the services' documents at the first request for its own and keeps the result, so the
document always describes the services actually deployed; `make docs` builds the same document
from the apps in-process and commits it as docs/openapi.json (a test checks both agree).

/docs is Swagger UI from the swagger-ui-bundle package, served by the gateway itself: the CSP
allows no script from elsewhere, and nothing is fetched from the internet.
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from parley_common.errors import NotFound, Unavailable
from parley_common.openapi import add_error_components, document_errors, error_response, operations

from .proxy import service_for
from .runtime import gateway_of

SERVICES = ("auth", "chat", "notify")
SCHEMA_REF = "#/components/schemas/"
TITLE = "Parley public API"
DESCRIPTION = (
    "REST through the gateway (PROTOCOL.md section 1 and 3). Every error is JSON "
    '`{"detail", "code"}`, with `retry_after` on 429 and 503. The WebSocket protocol at `/ws` '
    "is described by the AsyncAPI document (docs/asyncapi.json)."
)

# Answered by the edge on every routed operation, before or instead of the service.
EDGE_STATUSES = (429, 502, 503)
EDGE_DESCRIPTIONS = {
    401: "`Not authenticated` or `Could not validate credentials` (also for a token whose "
    "session was ended: logout, password change, refresh-token reuse).",
    429: "Too many requests from this address (PARLEY_REST_RATE), or a route's own limit.",
    502: "The service behind this route gave a broken answer.",
    503: "The service behind this route is down or its backend is (retry after `retry_after`).",
}


def _concrete(path: str) -> str:
    """A path template as a request path (`/friends/{user_id}` → `/friends/x`)."""
    return re.sub(r"\{[^}]+\}", "x", path)


def _merge(into: dict[str, Any], entries: Mapping[str, Any], what: str) -> None:
    for name, value in entries.items():
        if name in into and into[name] != value:
            raise ValueError(f"{what} {name!r} differs between services")
        into[name] = value


def _rename_refs(node: Any, renames: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_REF):
            name = ref.removeprefix(SCHEMA_REF)
            if name in renames:
                return {**node, "$ref": SCHEMA_REF + renames[name]}
        return {k: _rename_refs(v, renames) for k, v in node.items()}
    if isinstance(node, list):
        return [_rename_refs(v, renames) for v in node]
    return node


def _without_clashes(
    service: str, document: dict[str, Any], known: Mapping[str, Any]
) -> dict[str, Any]:
    """Two services may each have a model of the same name and a different shape (auth's
    StatusOk and common's): the service's one is renamed (`AuthStatusOk`) in its document."""
    schemas = document.get("components", {}).get("schemas", {})
    renames = {
        name: f"{service.capitalize()}{name}"
        for name, schema in schemas.items()
        if name in known and known[name] != schema
    }
    if not renames:
        return document
    document = _rename_refs(document, renames)
    document["components"]["schemas"] = {
        renames.get(name, name): schema
        for name, schema in document["components"]["schemas"].items()
    }
    return document


def public_document(
    gateway: dict[str, Any], services: Mapping[str, dict[str, Any]]
) -> dict[str, Any]:
    """The gateway's own document (its public routes) with the services' routed paths."""
    document: dict[str, Any] = {
        "openapi": gateway["openapi"],
        "info": {"title": TITLE, "version": gateway["info"]["version"], "description": DESCRIPTION},
        "paths": copy.deepcopy(gateway.get("paths", {})),
        "components": {"schemas": {}, "securitySchemes": {}},
    }
    components = document["components"]
    _merge(components["schemas"], gateway.get("components", {}).get("schemas", {}), "schema")
    for name in SERVICES:
        service = _without_clashes(name, copy.deepcopy(services[name]), components["schemas"])
        for path, item in service.get("paths", {}).items():
            if service_for(_concrete(path)) != name:
                continue  # /internal/, /healthz and the like: never routed
            for _, operation in item.items():
                if isinstance(operation, dict) and "responses" in operation:
                    operation.setdefault("tags", [name])
            document["paths"][path] = item
        for kind in ("schemas", "securitySchemes"):
            _merge(components[kind], service.get("components", {}).get(kind, {}), kind)
    add_error_components(document)
    for path, _, operation in operations(document):
        if service_for(_concrete(path)) is None:
            continue  # the gateway's own routes
        responses = operation["responses"]
        statuses = [*EDGE_STATUSES, *([401] if operation.get("security") else [])]
        for status in statuses:
            responses[str(status)] = error_response(status, EDGE_DESCRIPTIONS[status])
        operation["responses"] = dict(sorted(responses.items()))
    components["schemas"] = _referenced(document["paths"], components["schemas"])
    return document


def _referenced(paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """The schemas the public paths use, directly or through each other (internal routes'
    models stay out), in name order."""
    wanted: set[str] = set()
    todo = [paths]
    while todo:
        for ref in _refs(todo.pop()):
            if ref not in wanted and ref in schemas:
                wanted.add(ref)
                todo.append(schemas[ref])
    return {name: schemas[name] for name in sorted(wanted)}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        found = [ref.removeprefix(SCHEMA_REF)] if isinstance(ref, str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def gateway_document(app: FastAPI) -> dict[str, Any]:
    """The gateway's own routes (/health): it has no backend a route would wait for."""
    document = get_openapi(title=app.title, version=app.version, routes=app.routes)
    return document_errors(document, backend=False)


async def fetch_public_document(app: FastAPI) -> dict[str, Any]:
    """Built once from the running services' documents; 503 while one does not answer."""
    cached: dict[str, Any] | None = getattr(app.state, "public_openapi", None)
    if cached is not None:
        return cached
    gateway = gateway_of(app.state)
    if gateway is None:
        raise Unavailable("The gateway is starting")
    clients = [gateway.upstreams.by_name(name) for name in SERVICES]
    try:
        answers = await asyncio.gather(*(c.get("/openapi.json") for c in clients))
        for answer in answers:
            answer.raise_for_status()
        services = {name: a.json() for name, a in zip(SERVICES, answers, strict=True)}
    except Exception:
        raise Unavailable("A service's API document is not available yet", retry_after=2)
    document = public_document(gateway_document(app), services)
    app.state.public_openapi = document
    return document


def _swagger_ui_dir() -> Path:
    import swagger_ui_bundle

    return Path(swagger_ui_bundle.swagger_ui_path)


SWAGGER_ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "application/javascript",
    "favicon-32x32.png": "image/png",
}
DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Parley public API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""
# A file, not an inline script: the CSP allows scripts from this origin only.
DOCS_INIT_JS = (
    'SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true});\n'
)


def install_public_docs(app: FastAPI) -> None:
    """/openapi.json, /docs and its assets; call before the catch-all route is added."""

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_json(request: Request) -> JSONResponse:
        return JSONResponse(await fetch_public_document(request.app))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_HTML)

    @app.get("/docs/{asset}", include_in_schema=False)
    async def docs_asset(asset: str) -> Response:
        if asset == "init.js":
            return Response(DOCS_INIT_JS, media_type="application/javascript")
        if asset not in SWAGGER_ASSETS:
            raise NotFound("Not Found")
        return FileResponse(_swagger_ui_dir() / asset, media_type=SWAGGER_ASSETS[asset])
